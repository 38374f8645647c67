# PSPNet R50-D8 on CamVid (the SegNet tutorial's 11-class release: 367 train / 101 val / 233 test
# frames of 480x360), 360x480 crops, 20k iterations, 4 GPUs x 4: a street-scene benchmark that
# fits one workstation. Model and pretrained backbone as in the Cityscapes PSPNet config.
# Data: data/camvid/{train,trainannot,val,valannot}/*.png (label 11 = void, read as 255).
# Tested on val; for the test split set test_dataloader.dataset.data_prefix to
# dict(img_path='test', seg_map_path='testannot').
#   bash tools/dist_train.sh THIS_CONFIG 4 --pretrained work_dirs/mls/epoch_800.pth
_base_ = './pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py'

custom_imports = dict(
    imports=['mls_plugin', 'mls_plugin.benchmarks.camvid'], allow_failed_imports=False
)

data_root = 'data/camvid/'
crop_size = (360, 480)
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=11),
    auxiliary_head=dict(num_classes=11),
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(480, 360), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(480, 360), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4,
    dataset=dict(
        _delete_=True,
        type='CamVidDataset',
        data_root=data_root,
        data_prefix=dict(img_path='train', seg_map_path='trainannot'),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CamVidDataset',
        data_root=data_root,
        data_prefix=dict(img_path='val', seg_map_path='valannot'),
        pipeline=test_pipeline,
    )
)
test_dataloader = val_dataloader

max_iters = 20000
train_cfg = dict(max_iters=max_iters, val_interval=2000)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
