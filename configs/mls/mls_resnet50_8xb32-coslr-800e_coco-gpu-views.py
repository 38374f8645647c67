# The paper's setting with the views made on the GPU (issue 27): a data-loader worker only
# decodes each image and pads it into a 640 px uint8 canvas (ResizeToCanvas);
# MoCoV2TwoViewPreprocessor makes MoCo-v2's two 224 px views of the batch on the GPU, each image
# with its own random parameters, with the CPU pipeline's distribution
# (tests/test_models/test_data_preprocessors/test_gpu_views.py).
# A worker then serves several times the images per second (docs/performance.md, "Views on the
# device"), so 8 workers per GPU are enough where the CPU views need 15 to 40.
#   bash tools/dist_train.sh configs/mls/mls_resnet50_8xb32-coslr-800e_coco-gpu-views.py 8
# The switch for any config built on the paper's: inherit it and set these two keys (the 400
# epoch config: _base_ = './mls_resnet50_8xb32-coslr-400e_coco.py', the rest as here).
# The canvas, 640 px, is COCO's largest side: every photo is shipped at its own resolution,
# unresampled (a resize on the CPU would cost a worker about as much as the decoding), and the
# views are cut from its own pixels, as the CPU path cuts them. A dataset with larger photos
# has them shrunk to fit; 448 (2 x the view) ships half the bytes, at a resize's cost.
_base_ = './mls_resnet50_8xb32-coslr-800e_coco.py'

crop = 224
canvas = 640
# mean, std and to_rgb from the base's SelfSupDataPreprocessor.
data_preprocessor = dict(type='MoCoV2TwoViewPreprocessor', size=crop)
train_dataloader = dict(
    dataset=dict(
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='ResizeToCanvas', size=canvas),
            dict(
                type='PackInputs',
                meta_keys=('sample_idx', 'img_path', 'ori_shape', 'img_shape', 'canvas_valid'),
            ),
        ],
    ),
)
