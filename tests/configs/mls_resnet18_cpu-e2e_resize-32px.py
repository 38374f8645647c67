# The end-to-end config with one deterministic view transform, a resize to 32 x 32, on the first
# 48 images, for one epoch: the multi-process runs whose numbers must match another run's (two
# ranks against one process, a rank that fails) see the same views in every run. Each test
# sets the data folder and the batch (tests/conftest.py, `coco_tiny_options(size=None)`).
_base_ = './mls_resnet18_cpu-e2e.py'

view_pipeline = [dict(type='Resize', scale=(32, 32))]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(indices=48, pipeline=train_pipeline))
train_cfg = dict(max_epochs=1)
