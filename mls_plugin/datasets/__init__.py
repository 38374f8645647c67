from .coco_multilabel import CocoMultiLabelDataset
from .scene_image_dataset import SceneImageDataset

__all__ = ['CocoMultiLabelDataset', 'SceneImageDataset']
