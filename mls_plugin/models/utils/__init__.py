from .checked_pretrained import CheckedPretrainedInit, load_backbone_state, set_pretrained
from .projection_health import projection_health

__all__ = ['CheckedPretrainedInit', 'load_backbone_state', 'projection_health', 'set_pretrained']
