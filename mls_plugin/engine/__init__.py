from .hooks import (
    BCEWarmupHook,
    KNNMultiLabelHook,
    PreciseBNIterHook,
    PseudoLabelPrecisionHook,
    SkippedImagesHook,
)

__all__ = [
    'BCEWarmupHook',
    'KNNMultiLabelHook',
    'PreciseBNIterHook',
    'PseudoLabelPrecisionHook',
    'SkippedImagesHook',
]
