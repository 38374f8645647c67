from .algorithms import MLS, DenseCLMLS
from .heads import MLSHead
from .labelers import NoPositivesLabeler, RandomLabeler, TopKLabeler
from .losses import MultiLabelBCELoss
from .memories import QueueMemory
from .utils import CheckedPretrainedInit, load_backbone_state, set_pretrained

__all__ = [
    'MLS',
    'DenseCLMLS',
    'MLSHead',
    'TopKLabeler',
    'RandomLabeler',
    'NoPositivesLabeler',
    'MultiLabelBCELoss',
    'QueueMemory',
    'CheckedPretrainedInit',
    'load_backbone_state',
    'set_pretrained',
]
