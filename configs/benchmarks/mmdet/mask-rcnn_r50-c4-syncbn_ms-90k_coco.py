# Mask R-CNN R50-C4 on COCO, detectron2's 1x as iterations (the paper's R50-C4 row; MoCo's
# Base-RCNN-C4-BN.yaml): 90,000 iterations of 16 images, LR steps at 60,000 / 80,000, warm-up
# 1,000, PreciseBN over 200 iterations before the evaluation (TEST.PRECISE_BN.ENABLED True).
# Everything else is the epoch-based C4 1x config's.
_base_ = './mask-rcnn_r50-c4-syncbn_ms-1x_coco.py'

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
custom_hooks = [dict(type='PreciseBNIterHook', num_iters=200, interval=max_iters)]
