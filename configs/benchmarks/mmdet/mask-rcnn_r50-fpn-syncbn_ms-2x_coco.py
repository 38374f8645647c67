# Mask R-CNN R50-FPN 2x (24 epochs) on COCO, MoCo / DenseCL protocol.
_base_ = './mask-rcnn_r50-fpn-syncbn_ms-1x_coco.py'

max_epochs = 24
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[16, 22],
        gamma=0.1,
    ),
]
