# Ablation: labels and logits both from Q_g (Table 7: 39.5 / 35.7).
_base_ = '../mls_resnet50_8xb32-coslr-400e_coco.py'

model = dict(head=dict(logit_source='g'))
