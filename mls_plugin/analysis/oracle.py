"""A diagnosis: MLS with pseudo-positives that are all right.

Kept with the diagnostics (``import mls_plugin`` does not load it): a config that uses it lists
``'mls_plugin.analysis'`` in ``custom_imports``, names ``head.labeler=dict(type='OracleLabeler')``
and adds ``OraclePseudoLabelHook`` in place of ``PseudoLabelPrecisionHook``
(``tools/analysis/compare_pretraining.py --methods oracle_positives`` does all three).
"""

from typing import Optional

import torch
from mmengine.registry import HOOKS
from mmpretrain.registry import MODELS

from ..engine import PseudoLabelPrecisionHook
from ..evaluation import shared_categories
from ..models import BaseLabeler


@MODELS.register_module()
class OracleLabeler(BaseLabeler):
    """The top ``k`` by score among the queue entries that share a category with the query.

    ``candidates`` is the ``(B, D)`` bool mask of those entries, set before each step by
    :class:`OraclePseudoLabelHook` from the ground-truth labels. A query with fewer than ``k``
    allowed entries gets fewer positives (``-1`` pads its row).
    """

    def __init__(self) -> None:
        super().__init__()
        self.candidates: Optional[torch.Tensor] = None

    def forward(self, scores: torch.Tensor, k: int) -> torch.Tensor:
        if self.candidates is None:
            raise RuntimeError(
                'OracleLabeler: no candidates; add OraclePseudoLabelHook to custom_hooks, it '
                'sets them before each iteration'
            )
        allowed = self.candidates.to(scores.device)
        index = scores.masked_fill(~allowed, float('-inf')).topk(k, dim=1, sorted=False).indices
        return index.masked_fill(~allowed.gather(1, index), -1)


@HOOKS.register_module()
class OraclePseudoLabelHook(PseudoLabelPrecisionHook):
    """Feed an :class:`OracleLabeler` the queue entries that share a category with each query.

    Before each iteration the head's labeler gets, for every query of the batch, the queue slots
    whose image shares at least one ground-truth category with the query's image; it still ranks
    them by backbone similarity and takes the top ``k``. Everything else is the run's own: the
    same losses, queue and schedule. Comparing such a run with the plain one tells how much of
    MLS's result is limited by the precision of its pseudo-labels
    (``docs/experiments/demo/tuning_log.md``, part 6). It logs the precision as
    :class:`PseudoLabelPrecisionHook` does (1 once the queue has been written by the hook's run).

    The labels are read from the training set's COCO json: a diagnosis, never a pretraining
    method. Arguments as :class:`PseudoLabelPrecisionHook`.
    """

    def before_train(self, runner) -> None:
        labeler = self._mls(runner).head.labeler
        if not isinstance(labeler, OracleLabeler):
            raise TypeError(
                "OraclePseudoLabelHook: set model.head.labeler=dict(type='OracleLabeler'), got "
                f'{type(labeler).__name__}'
            )
        super().before_train(runner)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        model = self._mls(runner)
        samples = data_batch['data_samples']
        ids = torch.tensor([self._label_index.get(s.img_path, -1) for s in samples])
        model.head.labeler.candidates = shared_categories(self._labels, ids, self._slot_ids)

    def after_train(self, runner) -> None:
        super().after_train(runner)
        self._mls(runner).head.labeler.candidates = None
