# A downstream run that fits a CPU: Faster R-CNN FPN fine-tuned from the study's half-width
# ResNet-18 (stem 32, base 32: the backbone of configs/mls/small_scale/*coco-scenes-64px.py) on the
# VOC photos of ../shared/data/voc_animals (1,879 train / 1,129 val images, 20 VOC classes,
# COCO-style boxes at 160 px), scored by COCO box AP on val. Not a paper protocol: a stand-in that
# carries a pretraining all the way to a detection AP (docs/experiments/downstream_cpu.md).
#   python tools/train.py configs/benchmarks/small_scale/THIS_FILE.py \
#       --pretrained work_dirs/.../epoch_40.pth --cfg-options randomness.seed=101
# From random initialisation (the baseline): --cfg-options model.backbone.init_cfg=None.
# As the MoCo detection protocol: BN layers train (norm_eval False) and no stage is frozen; the
# single-process stand-in uses BN where the paper's configs use SyncBN.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mls_plugin'], allow_failed_imports=False)

pretrained = 'work_dirs/mls_resnet18-centred-proj_1xb32-coslr-40e_coco-scenes-64px/epoch_40.pth'
channels = 128  # FPN / RPN / RoI width, half of mmdet's 256 like the half-width backbone
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True
    ),
    backbone=dict(
        depth=18,
        stem_channels=32,
        base_channels=32,
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        init_cfg=dict(type='CheckedPretrained', checkpoint=pretrained, prefix='backbone.'),
    ),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=channels),
    rpn_head=dict(in_channels=channels, feat_channels=channels),
    roi_head=dict(
        bbox_roi_extractor=dict(
            out_channels=channels, roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2)
        ),
        bbox_head=dict(in_channels=channels, fc_out_channels=256, num_classes=20),
    ),
    # CPU budget: 128 sampled RoIs per image (mmdet 512), 300 test proposals (1000), the
    # 256-wide box head above (1024) and 2 x 2 RoIAlign samples per bin (mmdet: adaptive, up to
    # 10 x 10 on a large RoI at stride 4; mmcv's CPU RoIAlign and its backward took 45 % of a
    # step): the RoI head was 90 % of a 6 s step at mmdet's sizes.
    train_cfg=dict(rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)),
)

data_root = '../shared/data/voc_animals/'
classes = (
    'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
    'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa',
    'train', 'tvmonitor',
)  # fmt: skip
metainfo = dict(classes=classes)
# The photos are stored at 160 px (short side); they are used at that size.
scale = (400, 160)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'),
    ),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='images/train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=1),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='images/val/'),
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

# 400 iterations of batch 8 (1.7 epochs, about 13 minutes on one CPU core); mmdet's lr 0.02 at
# batch 16, linearly scaled; 100 warm-up iterations, steps at 300 and 370 (the 1x schedule's
# 8/12 and 11/12 of the way, as mmdet's epochs 8 and 11 of 12).
max_iters = 400
train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR', begin=0, end=max_iters, by_epoch=False, milestones=[300, 370], gamma=0.1
    ),
]
optim_wrapper = dict(optimizer=dict(lr=0.01), paramwise_cfg=dict(norm_decay_mult=0.0))
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1),
)
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(enable=False, base_batch_size=8)
