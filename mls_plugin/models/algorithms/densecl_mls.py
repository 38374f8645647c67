"""DenseCL plus MLS's multi-label loss, composed from registered components."""

from typing import Dict, List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils import pool_featmap, projection_health
from .mls import MLS


@MODELS.register_module()
class DenseCLMLS(MLS):
    """`DenseCL <https://arxiv.org/abs/2011.09157>`_ with the multi-label loss of
    `MLS <https://arxiv.org/abs/2308.03286>`_ on its global branch.

    An example of reusing MLS's components in another algorithm. Everything
    is built from config dicts; this class only wires them:

    - the global branch is MLS's: ``z`` is the neck's global projection and
      ``g`` the pooled backbone map, ``head`` (an :class:`MLSHead`) gives
      ``loss_nce`` (DenseCL's single InfoNCE) and ``loss_ml`` (Eq. 9) against
      ``memory`` (a :class:`QueueMemory` with banks ``g``, ``z``);
    - the dense branch is DenseCL's (Sec. 3.2): every cell of the query's
      projected map is matched to the key cell nearest in backbone features,
      and ``dense_head`` (e.g. ``ContrastiveHead``) gives ``loss_dense`` over
      that positive and the negatives of ``dense_memory``, a second
      :class:`QueueMemory` with one bank of pooled dense keys.

    The loss weights are the loss configs' ``loss_weight`` (DenseCL's
    ``loss_lambda = 0.5`` is 0.5 on ``loss_nce`` and on ``loss_dense``). The
    key encoder, shuffle-BN, key gathering and the momentum convention are
    those of :class:`MLS`: ``key = (1 - momentum) * key + momentum * online``,
    so DenseCL's ``m = 0.999`` is ``momentum=0.001``.

    Args:
        backbone (dict): Backbone config; its last output is a
            ``(B, C, H, W)`` map.
        neck (dict): ``DenseCLNeck`` config (``num_grid=None``: one cell per
            backbone cell, which the matching needs).
        head (dict): :class:`MLSHead` config.
        memory (dict): :class:`QueueMemory` config with banks ``g`` and ``z``.
        dense_head (dict): Head with ``loss(pos, neg)`` on ``(N, 1)`` and
            ``(N, D)`` cosine similarities, e.g. ``ContrastiveHead``.
        dense_memory (dict): :class:`QueueMemory` config with one bank of the
            neck's ``out_channels``.
        **kwargs: ``backbone``, ``neck``, ``head``, ``memory`` (above) and
            ``momentum``, ``log_health``, ``pretrained``, ``data_preprocessor``,
            ``init_cfg``, passed to :class:`MLS` with its defaults.
    """

    # The dense maps (B x d x S each) serve only this rank's dense loss: under shuffle-BN they
    # return to their owners by an all-to-all, not gathered from every rank.
    own_only_features = ('grid', 'feat')

    def __init__(self, *, dense_head: dict, dense_memory: dict, **kwargs) -> None:
        # Everything else is MLS's, with MLS's defaults (one place states them).
        super().__init__(**kwargs)
        self.dense_head = MODELS.build(dense_head)
        self.dense_memory = MODELS.build(dense_memory)
        if len(self.dense_memory.names) != 1:
            raise ValueError(
                'DenseCLMLS: `dense_memory.banks` must have one bank, e.g. dict(z=128), '
                f'got {self.dense_memory.names}'
            )
        (self._dense_bank,) = self.dense_memory.names

    def _features(
        self, backbone: nn.Module, neck: nn.Module, img: torch.Tensor
    ) -> Dict[str, torch.Tensor]:
        """``g``, ``z``; ``dense`` (pooled dense projection, the dense queue's key),
        ``grid`` (``(B, d_z, S)`` projected cells) and ``feat`` (``(B, d_g, S)``
        backbone cells), all but ``g`` L2-normalised over channels."""
        feat = self._featmap(backbone, img)
        z, grid, dense = neck((feat,))
        if grid.shape[2] != feat.shape[2] * feat.shape[3]:
            raise ValueError(
                f'DenseCLMLS: the neck gives {grid.shape[2]} cells for a {tuple(feat.shape[2:])} '
                'backbone map; set `neck.num_grid=None` to match cells one to one'
            )
        return dict(
            g=pool_featmap(feat),
            z=F.normalize(z, dim=1),
            dense=F.normalize(dense, dim=1),
            grid=F.normalize(grid, dim=1),
            feat=F.normalize(feat.flatten(2), dim=1),
        )

    def _encode(self, backbone: nn.Module, neck: nn.Module, img: torch.Tensor) -> Tuple:
        """``(g, z)`` as :class:`MLS` defines them (what :meth:`MLS.encode` returns)."""
        features = self._features(backbone, neck, img)
        return features['g'], features['z']

    def dense_logits(
        self, query: Dict[str, torch.Tensor], key: Dict[str, torch.Tensor]
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """DenseCL's ``(B S, 1)`` positive and ``(B S, D)`` negative cell similarities."""
        with torch.no_grad():  # each query cell's nearest key cell in backbone features
            match = torch.bmm(query['feat'].transpose(1, 2), key['feat']).argmax(dim=2)
        grid = query['grid']
        matched = key['grid'].gather(2, match.unsqueeze(1).expand(-1, grid.shape[1], -1))
        pos = (grid * matched).sum(dim=1).reshape(-1, 1)
        cells = grid.transpose(1, 2).reshape(-1, grid.shape[1])
        # B x S cell queries, B keys enqueued this step (see QueueMemory.similarity).
        neg = self.dense_memory.similarity(self._dense_bank, cells, batch_size=grid.shape[0])
        return pos, neg

    def loss(
        self, inputs: List[torch.Tensor], data_samples: List[DataSample], **kwargs
    ) -> Dict[str, torch.Tensor]:
        """Compute ``loss_nce``, ``loss_ml`` (unless the head's is None) and ``loss_dense``.

        Args:
            inputs (list[Tensor]): The two views, each ``(B, C, H, W)``.
            data_samples (list[DataSample]): Unused; kept for the interface.

        Returns:
            dict[str, Tensor]: The weighted losses, to be summed, and (with
            ``log_health``) the projection's health scalars.
        """
        inputs = self._two_views(inputs)
        query = self._features(self.backbone, self.neck, inputs[0])
        self._check_dims(query['g'], query['z'])
        if query['dense'].shape[1] != self.dense_memory.dims[self._dense_bank]:
            raise ValueError(
                f'DenseCLMLS: `dense_memory.banks.{self._dense_bank}` is '
                f"{self.dense_memory.dims[self._dense_bank]} but the neck's dense projection has "
                f'{query["dense"].shape[1]} channels'
            )
        keys, own = self._momentum_keys(inputs[1])
        # Both queues are read before this step's keys are written (MoCo order).
        losses = self.head.loss(query['z'], own['z'], query['g'], self.memory)
        losses['loss_dense'] = self.dense_head.loss(*self.dense_logits(query, own))
        if self._health_due():
            losses.update(projection_health(query['z'].detach(), *self.memory.moments('z')))
        self.memory.enqueue_gathered(g=keys['g'], z=keys['z'])
        self.dense_memory.enqueue_gathered(**{self._dense_bank: keys['dense']})
        return losses
