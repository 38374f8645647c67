"""Shared code of the analysis tools in ``tools/analysis``."""

from .labelled_images import build_labelled_dataset, encode_images, multi_hot
from .model_loading import build_model, load_pretrained_model, momentum_backbone

__all__ = [
    'build_labelled_dataset',
    'build_model',
    'encode_images',
    'load_pretrained_model',
    'momentum_backbone',
    'multi_hot',
]
