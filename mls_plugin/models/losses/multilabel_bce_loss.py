"""Sigmoid binary cross-entropy over a queue of candidates (MLS Eq. 9)."""

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS


@MODELS.register_module()
class MultiLabelBCELoss(nn.Module):
    """Binary cross-entropy with logits, averaged over all ``B x D`` entries.

    Eq. 9 of MLS: ``-(1/D) sum_i [y_i log s(p_i) + (1 - y_i) log(1 - s(p_i))]``
    averaged over the batch, with no positive re-weighting. Positives can be
    given as a dense multi-hot ``target`` or, cheaper, as ``pos_index``: the
    ``(B, k)`` column indices of the ones. The sparse form uses
    ``BCE(x, y) = softplus(x) - y * x`` so no ``B x D`` label matrix is built.

    Args:
        positive_only (bool): Keep only the ``y log s(p)`` term (paper Table 6).
            Defaults to False.
        loss_weight (float): Multiplier of the loss (lambda of Eq. 10).
            Defaults to 1.0.
    """

    def __init__(self, positive_only: bool = False, loss_weight: float = 1.0) -> None:
        super().__init__()
        if loss_weight < 0:
            raise ValueError(f'MultiLabelBCELoss: `loss_weight` must be >= 0, got {loss_weight}')
        self.positive_only = positive_only
        self.loss_weight = loss_weight

    def forward(
        self,
        logits: torch.Tensor,
        target: Optional[torch.Tensor] = None,
        pos_index: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Compute the weighted loss.

        Args:
            logits (Tensor): ``(B, D)`` logits, already divided by the
                temperature.
            target (Tensor, optional): ``(B, D)`` multi-hot labels in {0, 1}.
            pos_index (Tensor, optional): ``(B, k)`` indices of the positive
                columns, distinct within a row; ``-1`` pads a row with fewer
                positives (a pseudo-labeler's output). Give exactly one of the two.

        Returns:
            Tensor: The scalar loss.
        """
        if (target is None) == (pos_index is None):
            raise ValueError('MultiLabelBCELoss: give exactly one of `target` or `pos_index`')
        if pos_index is not None:
            pos_valid = pos_index >= 0
            pos_logits = logits.gather(1, pos_index.clamp(min=0)).masked_fill(~pos_valid, 0.0)
            if self.positive_only:
                # softplus(-0) of a padding column is ln 2, not 0: drop it explicitly.
                total = (F.softplus(-pos_logits) * pos_valid).sum()
            else:
                total = F.softplus(logits).sum() - pos_logits.sum()
            loss = total / logits.numel()
        else:
            target = target.to(logits.dtype)
            if self.positive_only:
                loss = (target * F.softplus(-logits)).mean()
            else:
                loss = F.binary_cross_entropy_with_logits(logits, target)
        return self.loss_weight * loss
