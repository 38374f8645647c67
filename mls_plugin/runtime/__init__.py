"""Run-time plumbing: launch, determinism, checkpoints and optimizer guards.

Nothing here knows MLS: these modules import mmengine and torch only, and the method
(``mls_plugin.models``, ``mls_plugin.datasets``, ``mls_plugin.engine``) never imports them.
``import mls_plugin`` loads this package so that its registered names (the
``GuardedOptimWrapper`` optimizer wrappers, ``RandomStateHook``, the ``atomic_local`` file
backend) resolve from a config.
"""

from .atomic_local_backend import AtomicLocalBackend
from .checkpoint_allowlist import checkpoint_safe_globals, register_checkpoint_safe_globals
from .config_checks import check_queue_fits_global_batch, check_queue_steps, warm_up_scaled_lr
from .cpu_distributed import close_distributed, prepare_cpu_distributed
from .determinism import prepare_determinism
from .guarded_optim_wrapper import GuardedAmpOptimWrapper, GuardedOptimWrapper, NonFiniteLossError
from .launch import (
    add_launch_args,
    apply_launch_args,
    distributed_job,
    drop_persistent_workers_without_workers,
    parse_launch_args,
)
from .random_state_hook import RandomStateHook

__all__ = [
    'AtomicLocalBackend',
    'GuardedAmpOptimWrapper',
    'GuardedOptimWrapper',
    'NonFiniteLossError',
    'RandomStateHook',
    'add_launch_args',
    'apply_launch_args',
    'distributed_job',
    'drop_persistent_workers_without_workers',
    'parse_launch_args',
    'check_queue_fits_global_batch',
    'check_queue_steps',
    'warm_up_scaled_lr',
    'checkpoint_safe_globals',
    'close_distributed',
    'prepare_cpu_distributed',
    'prepare_determinism',
    'register_checkpoint_safe_globals',
]
