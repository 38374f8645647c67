from .batch_rows import gather_rows, shuffle_rows, unshuffle_own_rows
from .checked_pretrained import CheckedPretrainedInit, load_backbone_state, set_pretrained
from .momentum_encoder import MomentumEncoder
from .pooling import backbone_featmap, pool_backbone, pool_featmap
from .projection_health import projection_health
from .split_batch_norm import SplitBatchNorm, uses_split_batch_norm

__all__ = [
    'backbone_featmap',
    'CheckedPretrainedInit',
    'gather_rows',
    'load_backbone_state',
    'MomentumEncoder',
    'pool_backbone',
    'pool_featmap',
    'projection_health',
    'set_pretrained',
    'shuffle_rows',
    'SplitBatchNorm',
    'unshuffle_own_rows',
    'uses_split_batch_norm',
]
