from .checked_pretrained import CheckedPretrainedInit, load_backbone_state, set_pretrained

__all__ = ['CheckedPretrainedInit', 'load_backbone_state', 'set_pretrained']
