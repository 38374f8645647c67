# Mask R-CNN R50-C4 1x on COCO, MoCo protocol: SyncBN everywhere, norm_eval=False, no frozen
# stage, an extra norm after res5 in the RoI head, multi-scale training, Pytorch-style input.
# res5 (layer4) of the checkpoint initialises the RoI head's shared res5.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50-caffe-c4_1x_coco.py'
custom_imports = dict(imports=['mls_plugin'], allow_failed_imports=False)

# The paper reports this benchmark with its 400-epoch model.
pretrained = 'work_dirs/mls_resnet50_8xb32-coslr-400e_coco/epoch_400.pth'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True
    ),
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        init_cfg=dict(
            type='CheckedPretrained',
            checkpoint=pretrained,
            prefix='backbone.',
            allow_unexpected=('layer4.',),  # res5 lives in the RoI head
        ),
    ),
    roi_head=dict(
        shared_head=dict(
            type='ResLayerExtraNorm',  # mmpretrain's port of MoCo's Res5ROIHeadsExtraNorm
            norm_cfg=norm_cfg,
            norm_eval=False,
            style='pytorch',
            init_cfg=dict(
                type='CheckedPretrained',
                checkpoint=pretrained,
                prefix='backbone.',
                allow_unexpected=('conv1.', 'bn1.', 'layer1.', 'layer2.', 'layer3.'),
                allow_missing=('norm.',),  # the extra norm is new
            ),
        )
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
