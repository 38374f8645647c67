# The VOC07 SVM protocol (svm_resnet50_voc07.py: short side 256, squash to 224, res5 AvgPool2d(6,
# stride=1), L2 norm, one LinearSVC per class with its cost chosen by 3-fold CV) on a CPU-sized
# stand-in: the study's half-width ResNet-18 (stem 32, base 32: the backbone of
# configs/mls/small_scale/*coco-scenes-64px.py; 256 x 2 x 2 = 1024-d features) and the VOC2012
# photos of ../shared/data/voc_animals (train 1,879 images as trainval, val 1,129 as test; 20 VOC
# classes, COCO-style json). Differences from VOC07: the images are stored at 160 px (upsampled to
# 224 here), difficult objects count as ordinary positives (the json keeps the flag, the dataset
# does not read it), and classes with no positive in a split are skipped by the protocol (aeroplane
# has none). docs/experiments/downstream_cpu.md.
#   python tools/benchmarks/svm_voc07.py configs/benchmarks/small_scale/THIS_FILE.py \
#       work_dirs/.../epoch_40.pth --out svm.json
# A random-init baseline: CHECKPOINT `random` with --seed. At the pretraining's own 64 px:
# svm_resnet18-half_voc-animals-64px.py.
_base_ = ['../classification/svm_resnet50_voc07.py']

model = dict(backbone=dict(depth=18, stem_channels=32, base_channels=32))

data_root = '../shared/data/voc_animals/'
dataset = dict(
    _delete_=True,
    type='CocoMultiLabelDataset',
    data_root=data_root,
    pipeline=_base_.test_pipeline,
)
train_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(dataset, ann_file='annotations/instances_train.json', data_prefix='images/train/'),
)
test_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(dataset, ann_file='annotations/instances_val.json', data_prefix='images/val/'),
)
