"""Switch MLS's multi-label BCE on after InfoNCE has trained alone for a while."""

from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class BCEWarmupHook(Hook):
    """Ramp the weight of MLS's BCE term from 0 to its configured value.

    The paper (Sec. 3.3) finds the BCE unstable from a poor starting point and
    names, without adopting, a remedy: train with InfoNCE alone for a few
    epochs, then add the BCE. Before ``begin`` the BCE weight is 0 (MoCo-v2
    alone); between ``begin`` and ``end`` it grows linearly; from ``end`` on
    it is ``loss_ml.loss_weight`` (lambda of Eq. 10). ``begin == end`` is the
    paper's hard switch. Before every iteration the head's
    ``loss_ml.loss_weight`` is set to the configured weight times the factor,
    from the runner's iteration count, so a resumed run continues the ramp
    where it was; the factor is logged as ``ml_scale``. The configured weight
    is restored after training.

    Args:
        end (int): Where the BCE reaches its full weight, in epochs
            (``by_epoch``) or iterations.
        begin (int): Where the ramp starts. Defaults to 0.
        by_epoch (bool): Count ``begin`` and ``end`` in epochs, converted
            with the training dataloader's length. Defaults to True.
    """

    priority = 'NORMAL'

    def __init__(self, end: int, begin: int = 0, by_epoch: bool = True) -> None:
        for key, value in (('begin', begin), ('end', end)):
            if not isinstance(value, int) or value < 0:
                raise ValueError(f'BCEWarmupHook: `{key}` must be an int >= 0, got {value!r}')
        if end < begin:
            raise ValueError(f'BCEWarmupHook: `end` ({end}) must not be before `begin` ({begin})')
        self.begin = begin
        self.end = end
        self.by_epoch = by_epoch
        self._iters: Optional[tuple] = None
        self._weight: Optional[float] = None

    def before_train(self, runner) -> None:
        head = self._head(runner)
        if head.loss_ml is None:
            raise ValueError(
                'BCEWarmupHook: the MLS head has no BCE term (`head.loss_ml=None`); '
                'remove the hook or configure `loss_ml`'
            )
        scale = len(runner.train_dataloader) if self.by_epoch else 1
        self._iters = (self.begin * scale, self.end * scale)
        self._weight = head.loss_ml.loss_weight

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        factor = self.factor(runner.iter)
        self._head(runner).loss_ml.loss_weight = self._weight * factor
        runner.message_hub.update_scalar('train/ml_scale', factor)

    def after_train(self, runner) -> None:
        self._head(runner).loss_ml.loss_weight = self._weight

    def factor(self, iteration: int) -> float:
        """The BCE weight factor at ``iteration`` (0-based), in [0, 1]."""
        begin, end = self._iters
        if iteration >= end:
            return 1.0
        if iteration < begin:
            return 0.0
        return (iteration - begin) / (end - begin)

    @staticmethod
    def _head(runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        head = getattr(model, 'head', None)
        if not (hasattr(head, 'loss_ml') and hasattr(head, 'labeler')):
            raise TypeError(
                f'BCEWarmupHook needs an MLS model with an MLSHead, got {type(model).__name__}'
            )
        return head
