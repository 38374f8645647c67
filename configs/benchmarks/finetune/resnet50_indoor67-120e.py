# MIT Indoor67 (67 scene classes, train 5360 / test 1340: the official TrainImages.txt /
# TestImages.txt, 80 + 20 images a class), MLS paper Table 5 (MLS.md "small datasets"): the whole
# 400-epoch MLS ResNet-50 fine-tuned for 120 epochs, test top-1 (paper: MLS 67.1, MoCo-v2 COCO
# 64.1). Model, schedule and augmentation are resnet50_cub-120e.py's, with its "assumed" lines.
# mmpretrain 1.2.0 has no Indoor67 class: mmpretrain's CustomDataset reads ImageNet-style class
# folders, the class index being the folder's place in sorted order, so both splits must hold all
# 67 folders (an empty or missing one would shift the labels; CustomDataset warns on empty ones).
# assumed: the user lays the official split out as <data_root>/train/<class>/*.jpg (the files of
#   TrainImages.txt) and <data_root>/test/<class>/*.jpg (TestImages.txt), e.g. by links into
#   Images/ (README.md of this folder has the commands).
_base_ = ['./resnet50_cub-120e.py']

model = dict(head=dict(num_classes=67))
data_preprocessor = dict(num_classes=67)

data_root = 'data/indoor67'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        data_prefix='train',
        pipeline={{_base_.train_pipeline}},
    )
)
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        data_prefix='test',
        pipeline={{_base_.test_pipeline}},
        test_mode=True,
    )
)
test_dataloader = val_dataloader
