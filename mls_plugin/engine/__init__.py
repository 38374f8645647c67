from .hooks import RandomStateHook, SkippedImagesHook
from .optim import GuardedAmpOptimWrapper, GuardedOptimWrapper, NonFiniteLossError

__all__ = [
    'GuardedAmpOptimWrapper',
    'GuardedOptimWrapper',
    'NonFiniteLossError',
    'RandomStateHook',
    'SkippedImagesHook',
]
