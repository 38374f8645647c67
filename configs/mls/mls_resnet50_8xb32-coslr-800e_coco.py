# MLS, ResNet-50, COCO train2017, 800 epochs: the paper's setting (MLS.md).
# 8 GPUs x 32 = global batch 256 at lr 0.3; `--auto-scale-lr` rescales it.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32_mocov2.py',
    'mmpretrain::_base_/schedules/imagenet_sgd_coslr_200e.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mls_plugin'], allow_failed_imports=False)

model = dict(
    type='MLS',
    momentum=0.005,  # mmengine EMA convention: the paper's m = 0.995
    # The projection's health scalars at the logger's interval only: each measurement is an
    # eigendecomposition and, on a GPU, a wait for the device.
    log_health=10,
    backbone=dict(type='ResNet', depth=50, norm_cfg=dict(type='BN'), zero_init_residual=False),
    neck=dict(
        type='MoCoV2Neck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=256,
        with_avg_pool=False,  # MLS pools itself: the pooled feature g feeds the labels
    ),
    head=dict(
        type='MLSHead',
        loss_nce=dict(type='CrossEntropyLoss'),
        loss_ml=dict(type='MultiLabelBCELoss', loss_weight=0.5),
        temperature=0.2,
        topk=20,
    ),
    memory=dict(type='QueueMemory', length=4096, banks=dict(g=2048, z=256)),
)

data_root = 'data/coco/'
train_dataloader = dict(
    batch_size=32,
    # Redefined: the `_scope_` key that `mmpretrain::` bases add would reach default_collate().
    collate_fn=dict(_delete_=True, type='default_collate'),
    dataset=dict(
        _delete_=True,
        type='SceneImageDataset',
        data_root=data_root,
        ann_file='annotations/instances_train2017.json',
        data_prefix='train2017/',
        skip_unreadable=False,  # True: replace broken images; SkippedImagesHook lists them
        pipeline=_base_.train_pipeline,
    ),
)

max_epochs = 800
# A NaN/inf loss stops the run before the step (tools/train.py saves the last good state);
# on_nonfinite='skip' drops such steps instead.
optim_wrapper = dict(
    type='GuardedOptimWrapper',
    on_nonfinite='stop',
    optimizer=dict(lr=0.3, momentum=0.9, weight_decay=1e-4),
)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs)
# Checkpoints are written to a temporary file and renamed: a job killed while saving keeps
# its last good checkpoint (mls_plugin/runtime/atomic_local_backend.py).
default_hooks = dict(
    checkpoint=dict(interval=10, max_keep_ckpts=3, backend_args=dict(backend='atomic_local'))
)
# --resume continues the random streams too; skipped unreadable images are reported per epoch.
custom_hooks = [dict(type='RandomStateHook'), dict(type='SkippedImagesHook')]
auto_scale_lr = dict(base_batch_size=256)
# Fixed 224 px views: let cuDNN pick its fastest convolutions once (mmpretrain's default is off;
# randomness.deterministic=True turns it off again for exact runs).
env_cfg = dict(cudnn_benchmark=True)
