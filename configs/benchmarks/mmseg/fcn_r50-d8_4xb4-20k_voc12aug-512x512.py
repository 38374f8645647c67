# FCN R50-D8, Pascal VOC 2012 + SBD ("aug", 10582 images), 512x512 crops, 20k iterations,
# 4 GPUs x 4, tested on VOC 2012 val. Backbone as in the PSPNet config: plain-stem ResNet, every
# pretrained tensor loaded, the base's dilated ResNet, SyncBN and Pytorch-style RGB
# preprocessing kept.
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py'
custom_imports = dict(imports=['mls_plugin'], allow_failed_imports=False)

pretrained = 'work_dirs/mls_resnet50_8xb32-coslr-800e_coco/epoch_800.pth'
model = dict(
    pretrained=None,
    backbone=dict(
        type='ResNet',
        init_cfg=dict(type='CheckedPretrained', checkpoint=pretrained, prefix='backbone.'),
    ),
)
