# The end-to-end tests' CPU config: the paper's recipe with a full-width ResNet-18 at 96 px
# and a queue of 1024. Each test sets the data folder (`train_dataloader.dataset.data_root`)
# and shrinks batch, queue and epochs; `make demo` runs
# configs/mls/small_scale/mls_resnet18_1xb32-coslr-20e_demo-scenes-48px.py instead.
_base_ = '../../configs/mls/mls_resnet50_8xb32-coslr-800e_coco.py'

model = dict(
    backbone=dict(depth=18),
    neck=dict(in_channels=512, hid_channels=512, out_channels=128),
    memory=dict(length=1024, banks=dict(g=512, z=128)),
)

view_pipeline = [
    dict(type='RandomResizedCrop', scale=96, crop_ratio_range=(0.2, 1.0), backend='pillow'),
    dict(
        type='RandomApply',
        transforms=[
            dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
        ],
        prob=0.8,
    ),
    dict(
        type='RandomGrayscale',
        prob=0.2,
        keep_channels=True,
        channel_weights=(0.114, 0.587, 0.2989),
    ),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.5),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    dataset=dict(
        data_root='data/demo_scenes/',
        ann_file='annotations/instances_train.json',
        data_prefix='images/train/',
        pipeline=train_pipeline,
    ),
)

max_epochs = 50
optim_wrapper = dict(optimizer=dict(lr=0.0375))  # 0.3 x 32 / 256
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=5, max_keep_ckpts=2))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
