# Stanford Cars (196 classes, train 8144 / test 8041), MLS paper Table 5 (MLS.md "small
# datasets"): the whole 400-epoch MLS ResNet-50 fine-tuned for 120 epochs, test top-1 (paper:
# MLS 88.5, MoCo-v2 COCO 87.5). Model, schedule and augmentation are
# resnet50_cub-120e.py's, with its "assumed" lines; only the data and the class count differ.
# mmpretrain's StanfordCars reads either car_ims/ + cars_annos.mat or cars_train/, cars_test/
#   + devkit/ (needs mat4py).
_base_ = ['./resnet50_cub-120e.py']

model = dict(head=dict(num_classes=196))
data_preprocessor = dict(num_classes=196)

data_root = 'data/Stanford_Cars'
train_dataloader = dict(dataset=dict(type='StanfordCars', data_root=data_root, split='train'))
val_dataloader = dict(dataset=dict(type='StanfordCars', data_root=data_root, split='test'))
test_dataloader = val_dataloader
