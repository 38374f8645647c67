# DTD, Describable Textures (47 classes, trainval 3760 / test 1880), MLS paper Table 5 (MLS.md
# "small datasets"): the whole 400-epoch MLS ResNet-50 fine-tuned for 120 epochs, test top-1
# (paper: MLS 63.0, MoCo-v2 COCO 60.9). Model, schedule and augmentation are
# resnet50_cub-120e.py's, with its "assumed" lines; only the data and the class count differ.
# assumed: the split that imdb/imdb.mat encodes (which mmpretrain's DTD reads; needs mat4py), taken
#   to be split 1 of the 10 official ones; train on its train + val, report its test top-1 (the
#   paper does not say which split or whether it averages over the 10).
_base_ = ['./resnet50_cub-120e.py']

model = dict(head=dict(num_classes=47))
data_preprocessor = dict(num_classes=47)

data_root = 'data/dtd'
train_dataloader = dict(dataset=dict(type='DTD', data_root=data_root, split='trainval'))
val_dataloader = dict(dataset=dict(type='DTD', data_root=data_root, split='test'))
test_dataloader = val_dataloader
