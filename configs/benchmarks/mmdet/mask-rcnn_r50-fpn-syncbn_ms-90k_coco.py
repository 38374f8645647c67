# Mask R-CNN R50-FPN on COCO, detectron2's 1x as iterations (the paper's Table 1 row): 90,000
# iterations of 16 images, LR steps at 60,000 / 80,000, warm-up 1,000, PreciseBN over 200
# iterations before the evaluation (TEST.PRECISE_BN), in the form of mmdet's own
# configs/common/ms-90k_coco.py (IterBasedTrainLoop, InfiniteSampler). Everything else is the
# epoch-based 1x config's (12 epochs = ~87,960 iterations, steps near 58.6k / 80.6k: about 2 %
# fewer, worth about 0.1 AP, inside the 0.2 AP between MLS and ORL in Table 1).
#   bash tools/dist_train.sh THIS_CONFIG 8 --pretrained work_dirs/mls/epoch_800.pth   (8 GPUs x 2)
_base_ = './mask-rcnn_r50-fpn-syncbn_ms-1x_coco.py'

max_iters = 90000
steps = [60000, 80000]
train_dataloader = dict(sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True))
train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=max_iters, by_epoch=False, milestones=steps, gamma=0.1),
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=10000))
log_processor = dict(by_epoch=False)
# detectron2's PreciseBN (200 batches, the training forward), which mmpretrain's PreciseBNHook
# cannot run on mmdet's AspectRatioBatchSampler (it sizes itself by the loader's batch_size).
custom_hooks = [dict(type='PreciseBNIterHook', num_iters=200, interval=max_iters)]
