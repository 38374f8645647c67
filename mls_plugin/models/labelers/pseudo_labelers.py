"""Pseudo-labelers: which queue entries are a query's positives in MLS's BCE (Eq. 7).

A labeler maps the ``(B, D)`` ranking scores of the queries against the queue (backbone
similarities ``g1 Q_g^T`` by default, no gradient) and ``k`` to the ``(B, k')`` column indices
of the positives, ``k' <= k``; a row with fewer positives pads with ``-1``. :class:`MLSHead`
builds one from its ``labeler`` config, so a different rule is a config change:
``head=dict(labeler=dict(type='RandomLabeler'))``.

:class:`TopKLabeler` is the paper's rule. The other two are controls for ablations that ask
whether the BCE helps through its pseudo-positives at all (docs/experiments, "What the BCE
adds"): :class:`RandomLabeler` keeps the number of positives but not their choice, and
:class:`NoPositivesLabeler` keeps only the BCE's push away from every queue entry (y = 0).

Labelers are modules without parameters, so a measurement (the pseudo-label precision hook,
the analysis tools) reads the positives of a training step by :meth:`BaseLabeler.observe`,
a forward hook, and the head keeps no state for it.
"""

from typing import Callable

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS
from torch.utils.hooks import RemovableHandle


class BaseLabeler(nn.Module):
    """A rule ``(scores (B, D), k) -> positives (B, k')`` of MLS's pseudo-labels."""

    def forward(self, scores: torch.Tensor, k: int) -> torch.Tensor:
        raise NotImplementedError

    @property
    def observed(self) -> bool:
        """Whether a measurement reads the positives (the head then labels without a BCE)."""
        return bool(self._forward_hooks)

    def observe(self, fn: Callable[[torch.Tensor], None]) -> RemovableHandle:
        """Call ``fn(positives)`` after every labelling; ``handle.remove()`` stops it."""
        return self.register_forward_hook(lambda module, args, positives: fn(positives))


@MODELS.register_module()
class TopKLabeler(BaseLabeler):
    """The ``k`` highest-scoring queue entries are positives (MLS Eq. 7, ``IsTopk``)."""

    def forward(self, scores: torch.Tensor, k: int) -> torch.Tensor:
        return scores.topk(k, dim=1, sorted=False).indices


@MODELS.register_module()
class RandomLabeler(BaseLabeler):
    """``k`` distinct queue entries drawn uniformly for each query, whatever the scores.

    Draws from the global RNG on the scores' device, so a seeded run is reproducible.
    """

    def forward(self, scores: torch.Tensor, k: int) -> torch.Tensor:
        return torch.rand(scores.shape, device=scores.device).topk(k, dim=1, sorted=False).indices


@MODELS.register_module()
class NoPositivesLabeler(BaseLabeler):
    """No positives: every target is 0, the BCE only pushes the query off the queue."""

    def forward(self, scores: torch.Tensor, k: int) -> torch.Tensor:
        return torch.empty((scores.shape[0], 0), dtype=torch.long, device=scores.device)
