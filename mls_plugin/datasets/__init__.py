# CamVidDataset (mmseg) is not imported here: importing mls_plugin must not need mmseg or
# mmcv's compiled ops, so that pretraining runs on an mmcv-lite install. The CamVid configs
# import `mls_plugin.datasets.camvid` themselves.
from .canvas import ResidentCanvasDataset, ResizeToCanvas
from .coco_multilabel import CocoMultiLabelDataset
from .scene_image_dataset import SceneImageDataset, UnreadableImageError

__all__ = [
    'CocoMultiLabelDataset',
    'ResidentCanvasDataset',
    'ResizeToCanvas',
    'SceneImageDataset',
    'UnreadableImageError',
]
