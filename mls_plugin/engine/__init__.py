from .hooks import (
    KNNMultiLabelHook,
    OraclePseudoLabelHook,
    PreciseBNIterHook,
    PseudoLabelPrecisionHook,
    RandomStateHook,
    SkippedImagesHook,
)
from .optim import GuardedAmpOptimWrapper, GuardedOptimWrapper, NonFiniteLossError

__all__ = [
    'GuardedAmpOptimWrapper',
    'GuardedOptimWrapper',
    'KNNMultiLabelHook',
    'NonFiniteLossError',
    'OraclePseudoLabelHook',
    'PreciseBNIterHook',
    'PseudoLabelPrecisionHook',
    'RandomStateHook',
    'SkippedImagesHook',
]
