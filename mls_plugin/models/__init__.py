from .algorithms import MLS, DenseCLMLS
from .data_preprocessors import MoCoV2TwoViewPreprocessor
from .heads import MLSHead
from .labelers import BaseLabeler, NoPositivesLabeler, RandomLabeler, TopKLabeler
from .losses import DenseTargetLoss, MultiLabelBCELoss
from .memories import QueueMemory
from .utils import CheckedPretrainedInit, load_backbone_state, set_pretrained

__all__ = [
    'MLS',
    'DenseCLMLS',
    'MLSHead',
    'MoCoV2TwoViewPreprocessor',
    'BaseLabeler',
    'TopKLabeler',
    'RandomLabeler',
    'NoPositivesLabeler',
    'DenseTargetLoss',
    'MultiLabelBCELoss',
    'QueueMemory',
    'CheckedPretrainedInit',
    'load_backbone_state',
    'set_pretrained',
]
