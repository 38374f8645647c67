"""The MLS head: InfoNCE plus multi-label BCE against queue pseudo-labels."""

from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ..memories import QueueMemory

_SOURCES = ('g', 'z')


@MODELS.register_module()
class MLSHead(BaseModule):
    """Loss head of `MLS <https://arxiv.org/abs/2308.03286>`_.

    With queries ``z1``, keys ``z2``, pooled backbone features ``g1`` and the
    banks ``Q_z``, ``Q_g`` of a :class:`QueueMemory` (same slots, read before
    this step's keys are enqueued):

    - InfoNCE (Eq. 1) over ``[<z1, z2>, z1 Q_z^T] / tau``, target 0.
    - Pseudo-labels (Eq. 7): ``y = IsTopk(g1 Q_g^T)``, the ``topk`` most
      similar queue entries are positives. Computed without gradient.
    - Multi-label BCE (Eq. 9) on ``p / tau`` with ``p = z1 Q_z^T`` (Eq. 8),
      the same matrix as the InfoNCE negatives, computed once.

    Both losses are returned already weighted by their loss configs, so the
    total loss (Eq. 10) is their sum.

    Args:
        loss_nce (dict): Config of the InfoNCE loss, a softmax cross-entropy.
            Defaults to ``dict(type='CrossEntropyLoss')``.
        loss_ml (dict, optional): Config of the multi-label loss, called as
            ``loss_ml(logits, pos_index=...)`` with the labeler's positives:
            :class:`MultiLabelBCELoss`, or a loss on a dense target wrapped in
            :class:`DenseTargetLoss`. None turns the BCE term off, which is the
            MoCo-v2 baseline. Its ``loss_weight`` is lambda of Eq. 10
            (:class:`BCEWarmupHook` ramps it). Defaults to
            ``dict(type='MultiLabelBCELoss', loss_weight=0.5)``.
        temperature (float): ``tau`` for both losses. Defaults to 0.2.
        topk (int): Number ``k`` of pseudo-positives per query. Defaults to 20.
        label_source (str): Bank whose similarities give the pseudo-labels:
            ``'g'`` (backbone, the paper) or ``'z'`` (projection). Table 7.
            Defaults to 'g'.
        logit_source (str): Bank whose similarities are the BCE logits:
            ``'z'`` (the paper) or ``'g'``. Table 7. Defaults to 'z'.
        labeler (dict): Config of the pseudo-labeler that turns the ranking
            scores into the positives' indices (:mod:`..labelers`). Defaults
            to ``dict(type='TopKLabeler')``, the paper's Eq. 7. With the BCE
            off, the queue is still ranked while a measurement observes the
            labeler (:meth:`BaseLabeler.observe`).
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(
        self,
        loss_nce: dict = dict(type='CrossEntropyLoss'),
        loss_ml: Optional[dict] = dict(type='MultiLabelBCELoss', loss_weight=0.5),
        temperature: float = 0.2,
        topk: int = 20,
        label_source: str = 'g',
        logit_source: str = 'z',
        labeler: dict = dict(type='TopKLabeler'),
        init_cfg: Optional[dict] = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if not temperature > 0:
            raise ValueError(f'MLSHead: `temperature` must be > 0, got {temperature}')
        if not isinstance(topk, int) or topk < 1:
            raise ValueError(f'MLSHead: `topk` must be an int >= 1, got {topk!r}')
        for key, value in (('label_source', label_source), ('logit_source', logit_source)):
            if value not in _SOURCES:
                raise ValueError(f'MLSHead: `{key}` must be one of {_SOURCES}, got {value!r}')
        self.loss_nce = MODELS.build(loss_nce)
        self.loss_ml = MODELS.build(loss_ml) if loss_ml is not None else None
        self.temperature = temperature
        self.topk = topk
        self.label_source = label_source
        self.logit_source = logit_source
        self.labeler = MODELS.build(labeler)

    def check_queue_length(self, length: int) -> bool:
        """Refuse a queue that cannot hold ``topk`` positives and a negative.

        Returns:
            bool: Whether this head computes pseudo-labels (the BCE is on, or the labeler is
            observed by a monitor); only then is ``topk < length`` required.
        """
        labels_wanted = self.loss_ml is not None or self.labeler.observed
        if labels_wanted and self.topk >= length:
            raise ValueError(
                f'MLSHead: `head.topk` ({self.topk}) must be smaller than the queue length '
                f'`memory.length` ({length})'
            )
        return labels_wanted

    def loss(
        self,
        z1: torch.Tensor,
        z2: torch.Tensor,
        g1: torch.Tensor,
        memory: QueueMemory,
    ) -> Dict[str, torch.Tensor]:
        """Compute the MLS losses for one step.

        Args:
            z1 (Tensor): ``(B, d_z)`` L2-normalised query projections.
            z2 (Tensor): ``(B, d_z)`` L2-normalised key projections.
            g1 (Tensor): ``(B, d_g)`` pooled backbone features of the queries
                (normalised here; only their direction matters).
            memory (QueueMemory): The queue with banks ``z`` (key projections)
                and ``g`` (key backbone features), before this step's keys
                are enqueued. The caller may enqueue them before backward.

        Returns:
            dict[str, Tensor]: ``loss_nce`` and, unless the BCE is off,
            ``loss_ml``.
        """
        labels_wanted = self.check_queue_length(memory.length)
        # Scaling the (B, d) query rather than the (B, D) product saves a B x D temporary.
        q = z1 / self.temperature
        l_pos = (q * z2.detach()).sum(dim=1, keepdim=True)
        # One (B, D) matrix serves as InfoNCE negatives and as BCE logits.
        l_queue = memory.similarity('z', q)
        nce_logits = torch.cat([l_pos, l_queue], dim=1)
        nce_target = torch.zeros(z1.shape[0], dtype=torch.long, device=z1.device)
        losses = dict(loss_nce=self.loss_nce(nce_logits, nce_target))
        if not labels_wanted:
            return losses

        g1 = F.normalize(g1, dim=1)
        # Ranked in at least float32, also under autocast: scores rounded to 16 bits tie
        # among close neighbours, and the top-k then picks among the ties arbitrarily.
        with torch.no_grad(), torch.autocast(g1.device.type, enabled=False):
            if self.label_source == 'g':
                scores = memory.similarity('g', g1.to(torch.promote_types(g1.dtype, torch.float32)))
            elif l_queue.dtype in (torch.float32, torch.float64):
                scores = l_queue  # the same order as z1 Q_z^T (tau > 0)
            else:  # a 16-bit product under autocast: rank a float32 one
                scores = memory.similarity('z', z1.detach().float())
            pos_index = self.labeler(scores, self.topk)
        if self.loss_ml is None:
            return losses
        if self.logit_source == 'z':
            ml_logits = l_queue
        else:
            ml_logits = memory.similarity('g', g1 / self.temperature)
        losses['loss_ml'] = self.loss_ml(ml_logits, pos_index=pos_index)
        return losses
