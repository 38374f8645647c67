# The coco_scenes small-scale recipe with the views made on the model's device (issue 27):
# the data loader decodes each image and fits it whole into a 240 px canvas (ResizeToCanvas,
# uint8); MoCoV2TwoViewPreprocessor makes MoCo-v2's two 64 px views of the batch on the
# device, each image with its own random parameters (docs/performance.md, "Views on the
# device"). Same recipe, same distribution of views as the CPU pipeline
# (tests/test_models/test_data_preprocessors/test_gpu_views.py).
#   python tools/train.py \
#       configs/mls/small_scale/mls_resnet18_1xb32-coslr-40e_coco-scenes-64px-gpu-views.py
# The canvas, 240 px: the photos' long side (160 px short side; 213 or 240 px long for 87 % of
# them), so most are shipped at their own resolution, unresampled, and the views are cut from
# their own pixels, as the CPU path cuts them; the few larger ones are shrunk to fit.
_base_ = './mls_resnet18_1xb32-coslr-40e_coco-scenes-64px.py'

crop = 64
canvas = 240
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
