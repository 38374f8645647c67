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
