"""Test helper: a NaN loss on one rank at one iteration, and a slow checkpoint write."""

import time

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class NonFiniteOnRankHook(Hook):
    """Make the head's losses NaN on ``rank`` at ``iteration`` (the guard then stops all ranks)."""

    def __init__(self, rank: int, iteration: int) -> None:
        self.rank, self.iteration = rank, iteration

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if get_rank() != self.rank or runner.iter != self.iteration:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        loss = model.head.loss

        def nan_loss(*args, **kwargs):
            return {k: v * float('nan') for k, v in loss(*args, **kwargs).items()}

        model.head.loss = nan_loss


@HOOKS.register_module()
class SlowCheckpointHook(Hook):
    """Hold every checkpoint write (on the rank that writes) for ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        time.sleep(self.seconds)
