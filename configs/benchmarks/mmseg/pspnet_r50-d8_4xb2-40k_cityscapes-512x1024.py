# PSPNet R50-D8, Cityscapes 40k, 4 GPUs x 2 (the paper's Table 3).
# The backbone is switched from ResNetV1c (deep stem) to ResNet, the layout of the pretrained
# ResNet-50, with `pretrained=None`, so every pretrained weight is used; the dilated-ResNet
# settings of the base stay. Input is already Pytorch-style (torchvision mean/std, RGB).
#   bash tools/dist_train.sh THIS_CONFIG 4 --pretrained work_dirs/mls/epoch_800.pth
_base_ = 'mmseg::pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py'
custom_imports = dict(imports=['mls_plugin'], allow_failed_imports=False)

pretrained = 'work_dirs/mls_resnet50_8xb32-coslr-800e_coco/epoch_800.pth'
model = dict(
    pretrained=None,
    backbone=dict(
        type='ResNet',
        init_cfg=dict(type='CheckedPretrained', checkpoint=pretrained, prefix='backbone.'),
    ),
)
