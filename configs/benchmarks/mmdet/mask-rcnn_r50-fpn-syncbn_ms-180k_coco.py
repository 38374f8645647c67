# Mask R-CNN R50-FPN on COCO, detectron2's 2x as iterations: 180,000 iterations of 16 images,
# LR steps at 120,000 / 160,000, warm-up 1,000, PreciseBN before the evaluation; otherwise the
# 90k config (and the epoch-based 2x config: 24 epochs = ~175,920 iterations).
_base_ = './mask-rcnn_r50-fpn-syncbn_ms-90k_coco.py'

max_iters = 180000
steps = [120000, 160000]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=max_iters, by_epoch=False, milestones=steps, gamma=0.1),
]
custom_hooks = [dict(type='PreciseBNIterHook', num_iters=200, interval=max_iters)]
