# MLS, ResNet-50, COCO train2017, 400 epochs (the paper's ablation length).
_base_ = './mls_resnet50_8xb32-coslr-800e_coco.py'

max_epochs = 400
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs)
