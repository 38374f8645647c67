# PSPNet R50-D8, Cityscapes, 512x1024 crops, 40k iterations, 4 GPUs x 2 (the paper's Table 3).
# The backbone is switched from ResNetV1c (deep stem) to ResNet (plain 7x7 stem: the layout of
# the MLS-pretrained ResNet-50) and `model.pretrained` is cleared, so every pretrained tensor is
# loaded (CheckedPretrained raises otherwise); the base's dilated ResNet (strides (1, 2, 1, 1),
# dilations (1, 1, 2, 4), contract_dilation) and SyncBN stay. The base's data_preprocessor is
# already Pytorch-style: RGB, mean (123.675, 116.28, 103.53), std (58.395, 57.12, 57.375).
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
