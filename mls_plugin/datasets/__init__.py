from .camvid import CamVidDataset
from .coco_multilabel import CocoMultiLabelDataset
from .scene_image_dataset import SceneImageDataset, UnreadableImageError

__all__ = ['CamVidDataset', 'CocoMultiLabelDataset', 'SceneImageDataset', 'UnreadableImageError']
