# FGVC Aircraft (100 classes, trainval 6667 / test 3333), MLS paper Table 5 (MLS.md "small
# datasets"): the whole 400-epoch MLS ResNet-50 fine-tuned for 120 epochs, test top-1 (paper:
# MLS 81.2, MoCo-v2 COCO 80.4). Model, schedule and augmentation are
# resnet50_cub-120e.py's, with its "assumed" lines; only the data and the class count differ.
# assumed: the 100 variants (the usual label level) and train on trainval, as the transfer
#   literature does.
_base_ = ['./resnet50_cub-120e.py']

model = dict(head=dict(num_classes=100))
data_preprocessor = dict(num_classes=100)

data_root = 'data/fgvc-aircraft-2013b'
train_dataloader = dict(dataset=dict(type='FGVCAircraft', data_root=data_root, split='trainval'))
val_dataloader = dict(dataset=dict(type='FGVCAircraft', data_root=data_root, split='test'))
test_dataloader = val_dataloader
