from .random_state_hook import RandomStateHook
from .skipped_images_hook import SkippedImagesHook

__all__ = ['RandomStateHook', 'SkippedImagesHook']
