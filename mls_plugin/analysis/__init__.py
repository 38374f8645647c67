"""Shared code of the analysis tools in ``tools/analysis``."""

from .encoding import encode_key, encode_online
from .labelled_images import build_labelled_dataset, multi_hot, training_crop_size
from .model_loading import build_model, load_pretrained_model, momentum_backbone, momentum_encoder
from .ranking import rank_queue
from .setup import load_mls_with_images

__all__ = [
    'build_labelled_dataset',
    'build_model',
    'encode_key',
    'encode_online',
    'load_mls_with_images',
    'load_pretrained_model',
    'momentum_backbone',
    'momentum_encoder',
    'multi_hot',
    'rank_queue',
    'training_crop_size',
]
