# The demo run of `make demo`, with the two monitors of what MLS learns: the pseudo-label
# precision (categories from the training json) and the kNN multi-label mAP of the frozen backbone
# on the held-out scenes. The labels never reach the loss.
_base_ = './mls_resnet18_1xb32-coslr-50e_demo-scenes.py'

knn_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=96, edge='short', backend='pillow'),
    dict(type='CenterCrop', crop_size=96),
    dict(type='PackInputs'),
]
knn_dataloader = dict(
    batch_size=64,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CocoMultiLabelDataset',
        data_root='data/demo_scenes/',
        ann_file='annotations/instances_train.json',
        data_prefix='images/train/',
        pipeline=knn_pipeline,
        test_mode=True,
    ),
)
custom_hooks = [
    *_base_.custom_hooks,
    dict(type='PseudoLabelPrecisionHook', interval=10),
    dict(
        type='KNNMultiLabelHook',
        bank_dataloader=knn_dataloader,
        query_dataloader=dict(
            knn_dataloader,
            dataset=dict(
                knn_dataloader['dataset'],
                ann_file='annotations/instances_val.json',
                data_prefix='images/val/',
            ),
        ),
        interval=5,
    ),
]
