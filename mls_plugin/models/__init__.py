from .algorithms import MLS
from .heads import MLSHead
from .losses import MultiLabelBCELoss
from .memories import QueueMemory

__all__ = ['MLS', 'MLSHead', 'MultiLabelBCELoss', 'QueueMemory']
