"""Any multi-label loss on a dense target, fed with a pseudo-labeler's positives."""

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS


@MODELS.register_module()
class DenseTargetLoss(nn.Module):
    """Call ``loss(logits, target)`` with the ``(B, D)`` multi-hot target of ``pos_index``.

    :class:`MLSHead` gives its multi-label loss the positives' indices, which
    :class:`MultiLabelBCELoss` reads without building a ``B x D`` label matrix. Another loss
    on a dense target, e.g. ``CrossEntropyLoss(use_sigmoid=True)``, is wrapped in this one:
    ``loss_ml=dict(type='DenseTargetLoss', loss=dict(type='CrossEntropyLoss',
    use_sigmoid=True, loss_weight=0.5))``.

    Args:
        loss (dict): Config of the wrapped loss; it must have a ``loss_weight``.
    """

    def __init__(self, loss: dict) -> None:
        super().__init__()
        self.loss = MODELS.build(loss)

    @property
    def loss_weight(self) -> float:
        """The wrapped loss's weight (what :class:`BCEWarmupHook` scales)."""
        return self.loss.loss_weight

    @loss_weight.setter
    def loss_weight(self, value: float) -> None:
        self.loss.loss_weight = value

    def forward(self, logits: torch.Tensor, pos_index: torch.Tensor) -> torch.Tensor:
        """The wrapped loss of ``logits`` against the positives ``pos_index`` (``-1`` pads)."""
        valid = (pos_index >= 0).to(logits.dtype)
        # scatter_add_: a padding (-1 -> column 0, value 0) never overwrites a real positive.
        target = torch.zeros_like(logits).scatter_add_(1, pos_index.clamp(min=0), valid)
        return self.loss(logits, target)
