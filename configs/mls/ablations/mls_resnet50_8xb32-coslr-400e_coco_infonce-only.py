# Ablation: InfoNCE only, i.e. MoCo-v2 with MLS's projector (Table 6: 38.8 / 35.5).
_base_ = '../mls_resnet50_8xb32-coslr-400e_coco.py'

model = dict(head=dict(loss_ml=None))
