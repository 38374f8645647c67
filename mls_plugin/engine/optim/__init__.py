from .guarded_optim_wrapper import GuardedAmpOptimWrapper, GuardedOptimWrapper, NonFiniteLossError

__all__ = ['GuardedAmpOptimWrapper', 'GuardedOptimWrapper', 'NonFiniteLossError']
