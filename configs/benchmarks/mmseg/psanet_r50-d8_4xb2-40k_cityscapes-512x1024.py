# PSANet R50-D8, Cityscapes, 512x1024 crops, 40k iterations, 4 GPUs x 2 (the paper's Table 3).
# Backbone as in the PSPNet config: plain-stem ResNet, every pretrained tensor loaded, the base's
# dilated ResNet, SyncBN and Pytorch-style RGB preprocessing kept.
_base_ = 'mmseg::psanet/psanet_r50-d8_4xb2-40k_cityscapes-512x1024.py'
custom_imports = dict(imports=['mls_plugin'], allow_failed_imports=False)

pretrained = 'work_dirs/mls_resnet50_8xb32-coslr-800e_coco/epoch_800.pth'
model = dict(
    pretrained=None,
    backbone=dict(
        type='ResNet',
        init_cfg=dict(type='CheckedPretrained', checkpoint=pretrained, prefix='backbone.'),
    ),
)
