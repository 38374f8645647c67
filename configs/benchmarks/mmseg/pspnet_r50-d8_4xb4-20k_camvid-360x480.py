# PSPNet R50-D8 on CamVid (11 classes, SegNet split, 360x480 frames), 20k iterations,
# 4 GPUs x 4: a street-scene benchmark that fits a workstation. Data: data/camvid with
# train/ trainannot/ val/ valannot/ train.txt val.txt (label 11 = void, mapped to 255).
_base_ = './pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py'

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
dataset = dict(type='CamVidDataset', data_root='data/camvid/')
train_dataloader = dict(
    batch_size=4,
    dataset=dict(
        dataset,
        _delete_=True,
        ann_file='train.txt',
        data_prefix=dict(img_path='train', seg_map_path='trainannot'),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    dataset=dict(
        dataset,
        _delete_=True,
        ann_file='val.txt',
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
