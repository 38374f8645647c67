from .hooks import (
    BCEWarmupHook,
    KNNMultiLabelHook,
    OraclePseudoLabelHook,
    PreciseBNIterHook,
    PseudoLabelPrecisionHook,
    SkippedImagesHook,
)

__all__ = [
    'BCEWarmupHook',
    'KNNMultiLabelHook',
    'OraclePseudoLabelHook',
    'PreciseBNIterHook',
    'PseudoLabelPrecisionHook',
    'SkippedImagesHook',
]
