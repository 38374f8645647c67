# Ablation: labels and logits both from Q_z (Table 7: 39.8 / 36.0).
_base_ = '../mls_resnet50_8xb32-coslr-400e_coco.py'

model = dict(head=dict(label_source='z'))
