# Faster R-CNN R50-C4 on VOC07+12 trainval for 24k iterations (batch 16), tested on VOC07 test:
# the MoCo protocol (mmdet's own VOC C4 config runs 18k). AP is reported at IoU 0.50:0.95 like
# the paper's AP / AP50 / AP75 (VOC 11-point AP per threshold, as detectron2 does for VOC2007).
_base_ = 'mmdet::pascal_voc/faster-rcnn_r50-caffe-c4_ms-18k_voc0712.py'
custom_imports = dict(imports=['mls_plugin'], allow_failed_imports=False)

# The 800-epoch MLS model: the paper's Table 4 caption (VOC07+12 detection) says 800 epochs.
pretrained = 'work_dirs/mls_resnet50_8xb32-coslr-800e_coco/epoch_800.pth'
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
            allow_unexpected=('layer4.',),
        ),
    ),
    roi_head=dict(
        shared_head=dict(
            _delete_=True,
            type='ResLayerExtraNorm',  # mmpretrain's port of MoCo's Res5ROIHeadsExtraNorm
            depth=50,
            stage=3,
            stride=2,
            dilation=1,
            norm_cfg=norm_cfg,
            norm_eval=False,
            style='pytorch',
            init_cfg=dict(
                type='CheckedPretrained',
                checkpoint=pretrained,
                prefix='backbone.',
                allow_unexpected=('conv1.', 'bn1.', 'layer1.', 'layer2.', 'layer3.'),
                allow_missing=('norm.',),
            ),
        )
    ),
    train_cfg=dict(
        # RPN.BOUNDARY_THRESH -1: anchors crossing the image border are kept (allowed_border -1).
        # detectron2's RPN Matcher(allow_low_quality_matches=True) gives each box its best anchors
        # at any IoU (mmdet's floor is 0.3); 1e-5 only skips zero-area boxes, which detectron2
        # drops before matching (filter_empty_instances).
        rpn=dict(assigner=dict(match_low_quality=True, min_pos_iou=1e-5), allowed_border=-1),
        # ROI_HEADS: Matcher(allow_low_quality_matches=False).
        rcnn=dict(assigner=dict(match_low_quality=False)),
    ),
)

# detectron2's load_voc_instances keeps "difficult" objects as ordinary training boxes; mmdet's
# XMLDataset marks them ignore_flag=1 and PackDetInputs moves them to ignored_instances, which
# training never reads. LoadAnnotations inside a KeyMapper that passes only the boxes and labels
# leaves gt_ignore_flags unset, so every box is a training box. The test pipeline is unchanged:
# difficult objects stay "ignore" in the VOC07 evaluation, as in detectron2's evaluator.
# Kept: mmdet subtracts 1 from all four VOC box corners, detectron2 from xmin / ymin only (its
# boxes are 1 px wider and taller); XMLDataset has no switch for it.
# INPUT.MIN_SIZE_TRAIN (480, 512, ..., 800), MAX_SIZE_TRAIN 1333, as mmdet's base.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='KeyMapper',
        transforms=[dict(type='LoadAnnotations', with_bbox=True)],
        remapping=dict(gt_bboxes='gt_bboxes', gt_bboxes_labels='gt_bboxes_labels'),
    ),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, s) for s in range(480, 801, 32)],
        keep_ratio=True,
    ),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
voc_trainval = dict(
    type='VOCDataset',
    data_root='data/VOCdevkit/',
    filter_cfg=dict(filter_empty_gt=True, min_size=32),
    pipeline=train_pipeline,
)
train_dataloader = dict(
    dataset=dict(
        datasets=[
            dict(
                voc_trainval,
                ann_file=f'{year}/ImageSets/Main/trainval.txt',
                data_prefix=dict(sub_data_root=f'{year}/'),
            )
            for year in ('VOC2007', 'VOC2012')
        ]
    )
)

# detectron2 parity (README of this folder, "detectron2 parity"): pascal_voc_R_50_C4_24k_moco.yaml
# SOLVER.MAX_ITER 24000, STEPS (18000, 22000), WARMUP_ITERS 100 (WARMUP_FACTOR 1/1000).
max_iter = 24000
train_cfg = dict(max_iters=max_iter, val_interval=4000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iter,
        by_epoch=False,
        milestones=[18000, 22000],
        gamma=0.1,
    ),
]
# SOLVER.WEIGHT_DECAY_NORM 0.0: no weight decay on the norm layers' weight and bias.
optim_wrapper = dict(paramwise_cfg=dict(norm_decay_mult=0.0))
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=4000))
val_evaluator = dict(
    type='VOCMetric',
    metric='mAP',
    eval_mode='11points',
    iou_thrs=[0.5 + 0.05 * i for i in range(10)],
)
test_evaluator = val_evaluator
# PreciseBN (Base-RCNN-C4-BN.yaml: TEST.PRECISE_BN.ENABLED True, 200 iterations) is not run:
# mmpretrain's PreciseBNHook divides by the train loader's batch_size, None under mmdet's
# AspectRatioBatchSampler (TypeError).
