"""A diagnosis: MLS with pseudo-positives that are all right."""

import torch
from mmengine.registry import HOOKS

from ...evaluation import shared_categories
from .pseudo_label_precision_hook import PseudoLabelPrecisionHook


@HOOKS.register_module()
class OraclePseudoLabelHook(PseudoLabelPrecisionHook):
    """Let MLS take its pseudo-positives only among queue entries that share a category.

    Before each iteration the head gets, for every query of the batch, the queue slots whose
    image shares at least one ground-truth category with the query's image
    (``MLSHead.pseudo_label_candidates``); it still ranks them by backbone similarity and takes
    the top ``k``. Everything else is the run's own: the same losses, queue and schedule.
    Comparing such a run with the plain one tells how much of MLS's result is limited by the
    precision of its pseudo-labels (``docs/results/demo/tuning_log.md``, part 6). It logs the
    precision as :class:`PseudoLabelPrecisionHook` does (1 once the queue has been written by
    the hook's run; a query with fewer than ``k`` such entries takes the rest at random).

    The labels are read from the training set's COCO json: a diagnosis, never a pretraining
    method. Arguments as :class:`PseudoLabelPrecisionHook`.
    """

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        model = self._mls(runner)
        samples = data_batch['data_samples']
        ids = torch.tensor([self._label_index.get(s.img_path, -1) for s in samples])
        model.head.pseudo_label_candidates = shared_categories(self._labels, ids, self._slot_ids)

    def after_train(self, runner) -> None:
        self._mls(runner).head.pseudo_label_candidates = None
