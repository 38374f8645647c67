# The coco_scenes small-scale recipe on voc_animals (1,879 real VOC2012 train photos, 20
# categories; ../shared/data/voc_animals), to check that its conclusions hold on other photos.
# D = 512 < N / 3 = 626 and k = 3 (k / D = 0.6 %) by the same rule, and the same BCE warm-up;
# every VOC category counts (none is in every image), the kNN mAP is over those with 20
# positives in train and val.
_base_ = './mls_resnet18_1xb32-coslr-40e_coco-scenes-64px.py'

data_root = '../shared/data/voc_animals/'
train_dataloader = dict(dataset=dict(data_root=data_root))
knn_dataloader = dict(
    _base_.knn_dataloader, dataset=dict(_base_.knn_dataloader.dataset, data_root=data_root)
)
knn_val_dataloader = dict(
    _base_.knn_val_dataloader,
    dataset=dict(_base_.knn_val_dataloader.dataset, data_root=data_root),
)
excluded_classes = []
custom_hooks = [
    dict(type='RandomStateHook'),
    dict(type='SkippedImagesHook'),
    dict(type='BCEWarmupHook', begin=10, end=10),
    dict(type='PseudoLabelPrecisionHook', interval=25),
    dict(
        type='KNNMultiLabelHook',
        bank_dataloader=knn_dataloader,
        query_dataloader=knn_val_dataloader,
        interval=10,
        min_positives=20,
    ),
]
