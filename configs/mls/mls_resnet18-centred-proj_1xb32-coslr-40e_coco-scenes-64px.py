# The coco_scenes config with a centred projection: BN without affine at the projector's output
# (mmpretrain's NonLinearNeck, which also puts a BN after the hidden layer). Everything else,
# D = 512, k = 3 and the BCE from epoch 10, is the coco_scenes config's.
#   python tools/train.py configs/mls/mls_resnet18-centred-proj_1xb32-coslr-40e_coco-scenes-64px.py
# Why (docs/comparison.md, section 7): with the plain MoCo-v2 projector the projection keeps a
# component shared by all images (|mean z| about 0.5 at the end), which InfoNCE does not see and
# the BCE, at tau = 0.2, turns into a loss_ml that rises 2.5 to 3-fold late in the schedule. The
# BN removes the batch's mean from z, and, since its gradient is centred over the batch, the
# BCE's push shared by all queries too. Measured over 3 seeds (MLS and InfoNCE only each with
# this projector): loss_ml flat at 0.45 (its floor is lambda ln 2 = 0.35), kNN and linear-probe
# mAP level with the plain projector's, loss_nce 1.65 to 1.68 nat below ln(D + 1), most of that
# through the batch statistics of the projector's BN on one process: with shuffle-BN emulated
# (norm_cfg=dict(type='SplitBN', num_splits=4) in the backbone and here) it was 0.55 (seed 0).
# Not the paper's projector (MoCo-v2's Linear-ReLU-Linear): the paper's configs keep that.
_base_ = './mls_resnet18_1xb32-coslr-40e_coco-scenes-64px.py'

model = dict(
    neck=dict(
        _delete_=True,
        type='NonLinearNeck',
        in_channels=256,
        hid_channels=256,
        out_channels=128,
        num_layers=2,
        with_bias=True,
        with_last_bn=True,
        with_last_bn_affine=False,
        with_last_bias=False,
        with_avg_pool=False,
        norm_cfg=dict(type='BN1d'),
    )
)
