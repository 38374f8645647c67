# The coco_scenes small-scale recipe with the views made on the model's device (issue 27):
# the data loader decodes each image and fits it whole into a 128 px canvas (ResizeToCanvas,
# uint8); MoCoV2TwoViewPreprocessor makes MoCo-v2's two 64 px views of the batch on the
# device, each image with its own random parameters (docs/performance.md, "Views on the
# device"). Same recipe, same distribution of views as the CPU pipeline (tests/test_gpu_views.py).
#   python tools/train.py configs/mls/mls_resnet18_1xb32-coslr-40e_coco-scenes-64px-gpu-views.py
# The canvas, 224 px, about the photos' long side (160 px short side): nearly their full
# resolution, from which the CPU path crops; the smallest crops (area 0.2: 71 px a side of a
# 213 x 160 photo at the extreme aspect) are about 75 px on the canvas, shrunk to 64 px as in
# the CPU path.
_base_ = './mls_resnet18_1xb32-coslr-40e_coco-scenes-64px.py'

crop = 64
canvas = 224
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
