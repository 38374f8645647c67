# Oxford-IIIT Pets (37 classes, trainval 3680 / test 3669), MLS paper Table 5 (MLS.md "small
# datasets"): the whole 400-epoch MLS ResNet-50 fine-tuned for 120 epochs, test top-1 (paper:
# MLS 81.9, MoCo-v2 COCO 79.4). Model, schedule and augmentation are
# resnet50_cub-120e.py's, with its "assumed" lines; only the data and the class count differ.
# the 37 breeds, the official trainval / test lists (annotations/trainval.txt, test.txt).
_base_ = ['./resnet50_cub-120e.py']

model = dict(head=dict(num_classes=37))
data_preprocessor = dict(num_classes=37)

data_root = 'data/Oxford-IIIT_Pets'
train_dataloader = dict(dataset=dict(type='OxfordIIITPet', data_root=data_root, split='trainval'))
val_dataloader = dict(dataset=dict(type='OxfordIIITPet', data_root=data_root, split='test'))
test_dataloader = val_dataloader
