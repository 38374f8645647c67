from .mls_head import MLSHead

__all__ = ['MLSHead']
