# Mask R-CNN R50-FPN 1x on COCO, the MoCo / DenseCL transfer protocol:
# SyncBN in backbone, FPN and heads, norm_eval=False, no frozen stage, multi-scale training,
# Pytorch-style RGB input (mmdet's R50 default: torchvision mean/std, bgr_to_rgb=True).
#   python tools/train.py THIS_CONFIG --pretrained work_dirs/mls/epoch_800.pth   (8 GPUs x 2)
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mls_plugin'], allow_failed_imports=False)

pretrained = 'work_dirs/mls_resnet50_8xb32-coslr-800e_coco/epoch_800.pth'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=dict(type='CheckedPretrained', checkpoint=pretrained, prefix='backbone.'),
    ),
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(
        bbox_head=dict(type='Shared4Conv1FCBBoxHead', norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg),
    ),
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, s) for s in (640, 672, 704, 736, 768, 800)],
        keep_ratio=True,
    ),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
