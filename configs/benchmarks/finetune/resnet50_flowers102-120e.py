# Oxford Flowers-102 (102 classes, trainval 2040 / test 6149), MLS paper Table 5 (MLS.md "small
# datasets"): the whole 400-epoch MLS ResNet-50 fine-tuned for 120 epochs, test top-1 (paper:
# MLS 91.2, MoCo-v2 COCO 89.6). Model, schedule and augmentation are
# resnet50_cub-120e.py's, with its "assumed" lines; only the data and the class count differ.
# assumed: train on trainval (the official train + val lists, 10 + 10 images a class), as the
#   transfer literature does for Flowers; mmpretrain's Flowers102 reads jpg/, imagelabels.mat
#   and setid.mat (needs mat4py).
_base_ = ['./resnet50_cub-120e.py']

model = dict(head=dict(num_classes=102))
data_preprocessor = dict(num_classes=102)

data_root = 'data/Flowers102'
train_dataloader = dict(dataset=dict(type='Flowers102', data_root=data_root, split='trainval'))
val_dataloader = dict(dataset=dict(type='Flowers102', data_root=data_root, split='test'))
test_dataloader = val_dataloader
