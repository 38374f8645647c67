# Mask R-CNN R50-FPN 2x (24 epochs) on COCO, MoCo / DenseCL protocol.
# detectron2 parity: as the 1x config; schedule kept at mmdet's 24 epochs = ~175,920 iterations,
# LR steps after epochs 16 / 22 (~117,280 / ~161,260), vs detectron2's 2x SOLVER.MAX_ITER 180000,
# STEPS (120000, 160000). Warm-up: SOLVER.WARMUP_ITERS 1000.
_base_ = './mask-rcnn_r50-fpn-syncbn_ms-1x_coco.py'

max_epochs = 24
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[16, 22],
        gamma=0.1,
    ),
]
