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
    train_cfg=dict(
        # RPN.BOUNDARY_THRESH -1: anchors crossing the image border are kept (mmdet's C4 default
        # allowed_border=0 drops them). detectron2's RPN Matcher(allow_low_quality_matches=True)
        # gives each box its best anchors at any IoU (mmdet's floor is 0.3); 1e-5 only skips
        # zero-area boxes, which detectron2 drops before matching (filter_empty_instances).
        rpn=dict(assigner=dict(match_low_quality=True, min_pos_iou=1e-5), allowed_border=-1),
        # ROI_HEADS: Matcher(allow_low_quality_matches=False).
        rcnn=dict(assigner=dict(match_low_quality=False)),
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

# detectron2 parity (README of this folder, "detectron2 parity"). Schedule: mmdet's 12 epochs of
# ~7,330 iterations (117,266 images / 16) = ~87,960 iterations, LR steps after epochs 8 / 11
# (~58,640 / ~80,630), vs detectron2's SOLVER.MAX_ITER 90000, STEPS (60000, 80000): kept.
# Warm-up: SOLVER.WARMUP_ITERS 1000, WARMUP_FACTOR 1/1000 (mmdet's default is 500).
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
# SOLVER.WEIGHT_DECAY_NORM 0.0: no weight decay on the norm layers' weight and bias.
optim_wrapper = dict(paramwise_cfg=dict(norm_decay_mult=0.0))
# PreciseBN (Base-RCNN-C4-BN.yaml: TEST.PRECISE_BN.ENABLED True, 200 iterations) is not run:
# mmpretrain's PreciseBNHook divides by the train loader's batch_size, None under mmdet's
# AspectRatioBatchSampler (TypeError).
