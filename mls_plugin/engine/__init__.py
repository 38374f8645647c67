from .hooks import (
    KNNMultiLabelHook,
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
    'PseudoLabelPrecisionHook',
    'RandomStateHook',
    'SkippedImagesHook',
]
