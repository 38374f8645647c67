from .hooks import (
    KNNMultiLabelHook,
    OraclePseudoLabelHook,
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
    'PseudoLabelPrecisionHook',
    'RandomStateHook',
    'SkippedImagesHook',
]
