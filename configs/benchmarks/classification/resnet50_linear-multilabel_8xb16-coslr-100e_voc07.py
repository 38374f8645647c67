# VOC07 multi-label classification, frozen-feature linear probe, 400-ep model as the paper's Table 5
# (the paper's 85.8 mAP is the SVM protocol's number, svm_resnet50_voc07.py: no paper number for
# this probe).
# The MLS ResNet-50 is frozen (all 4 stages, BN in eval mode: the running statistics stay those of
# the checkpoint); one linear layer on the globally pooled 2048-d feature is trained with a
# per-class sigmoid BCE on trainval (5011 images) and scored by mAP on test (4952 images,
# `difficult` objects ignored). Pytorch-style RGB input: mean/std/to_rgb come from the base.
# Schedule: MoCo-v2's linear protocol (mmpretrain's mocov2 benchmark: SGD momentum 0.9, no weight
# decay, lr 30 at batch 256; MLS is MoCo-v2 based and such pooled features are small, hence the
# large lr), scaled linearly to 8 GPUs x 16 = 128 (lr 15), with a cosine decay over 100 epochs:
# 40 steps an epoch, 4k in all, ample for a convex probe on 5k images. The head's BCE is summed
# over classes and averaged over images, so each class gets a step of the size a softmax class
# gets and the lr carries over. Not tuned on real data: for another checkpoint sweep it with
# --cfg-options optim_wrapper.optimizer.lr=... (a loss that rises in epoch 1 means too large).
_base_ = [
    'mmpretrain::_base_/datasets/voc_bs16.py',
    'mmpretrain::_base_/schedules/imagenet_sgd_coslr_100e.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mls_plugin'], allow_failed_imports=False)

# The paper reports this benchmark with its 400-epoch model.
pretrained = 'work_dirs/mls_resnet50_8xb32-coslr-400e_coco/epoch_400.pth'
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet',
        depth=50,
        out_indices=(3,),
        style='pytorch',
        frozen_stages=4,
        norm_eval=True,
        # mmpretrain's ResNet zeroes every norm3 after init_cfg ran unless its type is
        # 'Pretrained': it would overwrite the loaded weights.
        zero_init_residual=False,
        init_cfg=dict(type='CheckedPretrained', checkpoint=pretrained, prefix='backbone.'),
    ),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='MultiLabelLinearClsHead',
        num_classes=20,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss', use_sigmoid=True),
    ),
)

data_root = 'data/VOCdevkit/VOC2007'
train_dataloader = dict(dataset=dict(data_root=data_root, split='trainval'))
val_dataloader = dict(dataset=dict(data_root=data_root, split='test'))
test_dataloader = val_dataloader
# From the base: VOCMultiLabelMetric (macro, micro at thr 0.5) and VOCAveragePrecision (mAP).

optim_wrapper = dict(optimizer=dict(type='SGD', lr=15.0, momentum=0.9, weight_decay=0.0))
train_cfg = dict(max_epochs=100, val_interval=10)
auto_scale_lr = dict(base_batch_size=128)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=10, max_keep_ckpts=3),
)
