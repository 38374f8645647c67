from .checkpoint_allowlist import checkpoint_safe_globals, register_checkpoint_safe_globals
from .cpu_distributed import prepare_cpu_distributed

__all__ = [
    'checkpoint_safe_globals',
    'prepare_cpu_distributed',
    'register_checkpoint_safe_globals',
]
