"""PreciseBN for any train loader: BN statistics re-estimated over a fixed number of batches."""

from typing import Iterator, List, Optional

import torch
import torch.nn as nn
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torch.nn.modules.batchnorm import _BatchNorm


def bn_layers_in_training(model: nn.Module) -> List[_BatchNorm]:
    """The BN layers that normalise with batch statistics (train mode, running stats kept)."""
    return [
        m
        for m in model.modules()
        if isinstance(m, _BatchNorm) and m.training and m.track_running_stats
    ]


@torch.no_grad()
def update_bn_stats(
    model: nn.Module, batches: Iterator[dict], num_iters: int, mode: str = 'loss'
) -> int:
    """Replace every training-mode BN layer's running statistics by their mean over batches.

    detectron2's ``PreciseBN`` (TEST.PRECISE_BN): the running mean and variance become the
    average of ``num_iters`` batches' statistics (PyTorch's cumulative average,
    ``momentum=None``) instead of an exponential average dominated by the last steps; under
    DDP the ranks' averages are averaged. Each batch goes through ``model.data_preprocessor``
    and the model's forward in ``mode``, without gradient: ``'loss'`` (the default) is the
    training forward that detectron2 runs (a detector's RoI heads then see sampled proposals,
    as in training, not the test-time ones of ``'tensor'`` mode); the losses are dropped.

    Returns:
        int: The number of BN layers updated.
    """
    layers = bn_layers_in_training(model)
    if not layers:
        return 0
    momenta = [bn.momentum for bn in layers]
    for bn in layers:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the batches
    try:
        for _ in range(num_iters):
            data = model.data_preprocessor(next(batches), True)
            model._run_forward(data, mode=mode)
    finally:
        for bn, momentum in zip(layers, momenta):
            bn.momentum = momentum
    if get_world_size() > 1:
        for bn in layers:
            for stat in (bn.running_mean, bn.running_var):
                all_reduce(stat, op='mean')
    return len(layers)


@HOOKS.register_module()
class PreciseBNIterHook(Hook):
    """PreciseBN every ``interval`` training iterations and after the last one.

    Works with any train loader: it draws ``num_iters`` batches from a fresh iterator of the
    runner's train dataloader, whatever makes its batches (mmdet's ``AspectRatioBatchSampler``
    included, whose loader has ``batch_size=None``, where mmpretrain's ``PreciseBNHook``, which
    counts samples through ``batch_size``, raises a ``TypeError``). detectron2 runs it before
    each evaluation and at the end of training with 200 iterations (``TEST.PRECISE_BN``), as
    MoCo's detection configs enable it; set ``interval`` to the validation interval.

    Args:
        num_iters (int): Batches to average over. Defaults to 200.
        interval (int): Run every ``interval`` training iterations (and after the last).
            Defaults to 10000.
        mode (str): The forward mode of the batches (:func:`update_bn_stats`). Defaults to
            'loss'.
    """

    priority = 'ABOVE_NORMAL'  # before the checkpoint hook saves, and before validation

    def __init__(self, num_iters: int = 200, interval: int = 10000, mode: str = 'loss') -> None:
        for key, value in (('num_iters', num_iters), ('interval', interval)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'PreciseBNIterHook: `{key}` must be an int >= 1, got {value!r}')
        self.num_iters = num_iters
        self.interval = interval
        self.mode = mode
        self._batches: Optional[Iterator[dict]] = None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not (self.every_n_train_iters(runner, self.interval) or self.is_last_train_iter(runner)):
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if self._batches is None:
            self._batches = self._endless(runner.train_dataloader)
        count = update_bn_stats(model, self._batches, self.num_iters, self.mode)
        runner.logger.info(
            f'PreciseBN: the statistics of {count} BN layers re-estimated over '
            f'{self.num_iters} batches at iteration {runner.iter + 1}'
        )

    @staticmethod
    def _endless(loader) -> Iterator[dict]:
        while True:
            yield from loader
