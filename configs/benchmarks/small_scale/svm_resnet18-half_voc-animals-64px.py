# svm_resnet18-half_voc-animals.py at the resolution the study's backbones were pretrained at
# (64 px views): the lineage's resize scaled by 64 / 224 (short side 73, then the whole image
# squashed to 64 x 64, no crop), whose 2 x 2 res5 map is the SVM's feature as it is
# (svm.pool='adaptive' to 2 x 2; the lineage's AvgPool2d(6) needs a 7 x 7 map).
_base_ = ['./svm_resnet18-half_voc-animals.py']

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=73, edge='short'),
    dict(type='Resize', scale=(64, 64)),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
svm = dict(pool='adaptive', pool_size=2)
