from .scene_image_dataset import SceneImageDataset

__all__ = ['SceneImageDataset']
