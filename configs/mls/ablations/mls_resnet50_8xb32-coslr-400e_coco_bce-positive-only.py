# Ablation: BCE with the positive term only (Table 6: 39.6 / 35.7).
_base_ = '../mls_resnet50_8xb32-coslr-400e_coco.py'

model = dict(head=dict(loss_ml=dict(positive_only=True)))
