# COCO multi-label classification (80 classes), the same frozen-feature linear probe as VOC07:
# train2017 (118k images) / val2017 (5k), labels = the categories of an image's non-crowd
# instances (CocoMultiLabelDataset), mAP (AveragePrecision) and precision/recall/F1 at 0.5.
# 30 epochs at 8 x 16 = 925 steps an epoch, 28k steps in all: 7x the VOC07 probe's steps for
# 23x its images; the probe is convex and the frozen forward pass is the whole cost.
_base_ = ['./resnet50_linear-multilabel_8xb16-coslr-100e_voc07.py']

model = dict(head=dict(num_classes=80))
data_preprocessor = dict(num_classes=80)

data_root = 'data/coco/'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CocoMultiLabelDataset',
        data_root=data_root,
        ann_file='annotations/instances_train2017.json',
        data_prefix='train2017/',
        pipeline=train_pipeline,
    )
)
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CocoMultiLabelDataset',
        data_root=data_root,
        ann_file='annotations/instances_val2017.json',
        data_prefix='val2017/',
        pipeline=test_pipeline,
        test_mode=True,
    )
)
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='AveragePrecision'),
    dict(type='MultiLabelMetric', thr=0.5),
    dict(type='MultiLabelMetric', thr=0.5, average='micro'),
]
test_evaluator = val_evaluator

param_scheduler = [dict(type='CosineAnnealingLR', T_max=30, by_epoch=True, begin=0, end=30)]
train_cfg = dict(max_epochs=30, val_interval=5)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=5))
