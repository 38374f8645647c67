# VOC07 multi-label classification, the SVM protocol of the paper's lineage (FAIR's
# self-supervision benchmark -> OpenSelfSup -> DenseCL / mmselfsup `svm_voc07`), run by
# tools/benchmarks/svm_voc07.py (no training loop): each image resized (short side 256, then
# squashed to 224 x 224, as the lineage), the frozen MLS ResNet-50's 7 x 7 res5 output
# average-pooled with a 6 x 6 kernel at stride 1 to 2 x 2 (2048 x 4 = 8192-d), L2-normalised, and
# one linear SVM per class (scikit-learn LinearSVC: squared hinge, L2, class_weight {1: 2, -1: 1},
# max_iter 2000) is fitted on trainval (5011 images) for every cost; the cost with the best mean
# 3-fold CV AP is refitted on all of trainval and scored on test (4952 images). Difficult-only
# labels are negatives for training and ignored at test. Reported: per-class AP and mAP, with the
# lineage's all-point AP (and the VOC07 11-point AP beside it).
# Difference from the lineage: the SVMs get random_state=0. svm.pool='adaptive' (an adaptive 2x2
# pool, this project's earlier choice) with a centre crop is kept as an option.
# The linear probe of the same checkpoint: resnet50_linear-multilabel_8xb16-coslr-100e_voc07.py.
_base_ = ['./resnet50_linear-multilabel_8xb16-coslr-100e_voc07.py']

# Only the frozen backbone is used; it is loaded through the inherited CheckedPretrained init.
model = dict(neck=None, head=None)

# Both splits, as the lineage: resize the short side to 256, then the whole image to 224 x 224
# (no crop: a centre crop would drop objects at the border, labels of a multi-label task).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='Resize', scale=(224, 224)),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'gt_label_difficult')),
]
# trainval: the SVMs' training and cross-validation set; test: where the AP is measured.
train_dataloader = dict(
    batch_size=32,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(pipeline=test_pipeline),
)
test_dataloader = dict(
    batch_size=32,
    collate_fn=dict(type='default_collate'),
    dataset=dict(pipeline=test_pipeline),
)

svm = dict(
    # The lineage's costs: its scripts pass 1, 10, 100 and its svm_helper appends 2^-4 ... 2^-19.
    costs=[1.0, 10.0, 100.0] + [0.5**k for k in range(4, 20)],
    folds=3,
    pool='lineage',  # AvgPool2d(6, stride=1) on the 7 x 7 res5 map; 'adaptive': adaptive 2x2
    pool_size=2,  # the adaptive pool's side
    n_jobs=-1,  # classes fitted in parallel on all CPUs (tools/benchmarks/svm_voc07.py --jobs)
)
