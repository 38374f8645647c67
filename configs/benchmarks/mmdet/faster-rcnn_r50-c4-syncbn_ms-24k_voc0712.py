# Faster R-CNN R50-C4 on VOC07+12 trainval for 24k iterations (batch 16), tested on VOC07 test:
# the MoCo protocol (mmdet's own VOC C4 config runs 18k). AP is reported at IoU 0.50:0.95 like
# the paper's AP / AP50 / AP75 (VOC 11-point AP per threshold, as detectron2 does for VOC2007).
_base_ = 'mmdet::pascal_voc/faster-rcnn_r50-caffe-c4_ms-18k_voc0712.py'
custom_imports = dict(imports=['mls_plugin'], allow_failed_imports=False)

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
)

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
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=4000))
val_evaluator = dict(
    type='VOCMetric',
    metric='mAP',
    eval_mode='11points',
    iou_thrs=[0.5 + 0.05 * i for i in range(10)],
)
test_evaluator = val_evaluator
