from .hooks import RandomStateHook
from .optim import GuardedAmpOptimWrapper, GuardedOptimWrapper, NonFiniteLossError

__all__ = [
    'GuardedAmpOptimWrapper',
    'GuardedOptimWrapper',
    'NonFiniteLossError',
    'RandomStateHook',
]
