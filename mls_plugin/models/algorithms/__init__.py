from .densecl_mls import DenseCLMLS
from .mls import MLS

__all__ = ['MLS', 'DenseCLMLS']
