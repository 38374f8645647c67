from .dense_target_loss import DenseTargetLoss
from .multilabel_bce_loss import MultiLabelBCELoss

__all__ = ['DenseTargetLoss', 'MultiLabelBCELoss']
