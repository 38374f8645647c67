# MLS's components inside another algorithm: DenseCL (Wang et al., CVPR 2021) whose global branch
# also gets MLS's multi-label BCE. `DenseCLMLS` only wires registered components:
#   QueueMemory        both queues: `memory` (banks g, z: global InfoNCE and BCE) and
#                      `dense_memory` (one bank: DenseCL's pooled dense keys)
#   MLSHead            global InfoNCE (`loss_nce`) + MultiLabelBCELoss (`loss_ml`)
#   ContrastiveHead    mmpretrain's, DenseCL's dense InfoNCE over matched cells (`loss_dense`)
#   DenseCLNeck        mmpretrain's, global and dense projections
# Weights: DenseCL's loss_lambda = 0.5 splits 0.5 / 0.5 between global and dense InfoNCE, and
# MLS's BCE keeps its 0.5 relative to the global InfoNCE: 0.5 x 0.5 = 0.25. Everything else
# (data, schedule, hooks, momentum 0.005 = MLS's m = 0.995) is the MLS config's. An example of
# composition, not a tuned recipe: no result of it is claimed.
#   python tools/train.py configs/examples/densecl-mls_resnet18_1xb32-coslr-40e_coco-scenes-64px.py
_base_ = '../mls/small_scale/mls_resnet18_1xb32-coslr-40e_coco-scenes-64px.py'

model = dict(
    type='DenseCLMLS',
    neck=dict(
        _delete_=True,
        type='DenseCLNeck',
        in_channels=256,
        hid_channels=256,
        out_channels=128,
        num_grid=None,  # one projected cell per backbone cell: the dense matching needs it
    ),
    head=dict(
        loss_nce=dict(type='CrossEntropyLoss', loss_weight=0.5),
        loss_ml=dict(type='MultiLabelBCELoss', loss_weight=0.25),
    ),
    dense_head=dict(
        type='ContrastiveHead',
        loss=dict(type='CrossEntropyLoss', loss_weight=0.5),
        temperature=0.2,
    ),
    dense_memory=dict(type='QueueMemory', length=512, banks=dict(z=128)),
)
