from .mls import MLS

__all__ = ['MLS']
