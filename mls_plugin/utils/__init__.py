from .atomic_local_backend import AtomicLocalBackend
from .checkpoint_allowlist import checkpoint_safe_globals, register_checkpoint_safe_globals
from .config_checks import check_queue_fits_global_batch, check_queue_steps, warm_up_scaled_lr
from .cpu_distributed import close_distributed, prepare_cpu_distributed
from .determinism import prepare_determinism
from .launch import (
    add_launch_args,
    apply_launch_args,
    distributed_job,
    drop_persistent_workers_without_workers,
    parse_launch_args,
)

__all__ = [
    'AtomicLocalBackend',
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
