"""Save and restore the random number generators with every checkpoint."""

import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Make ``--resume`` continue the random streams where they stopped.

    mmengine checkpoints the model, optimizer, schedulers and counters, and
    re-seeds on resume, so augmentations after a resume differ from those of
    an uninterrupted run. This hook stores the states of Python's ``random``,
    NumPy's global generator and torch's CPU (and CUDA) generators in
    ``checkpoint['meta']['random_state']`` and restores them when training
    starts from a resumed checkpoint. Data-loader workers are seeded from the
    torch generator each epoch, so with ``num_workers=0`` or non-persistent
    workers a resumed single-process run repeats the uninterrupted one
    exactly (in deterministic mode). The states are rank 0's.
    """

    priority = 'VERY_LOW'  # restore after every other before_train hook

    def __init__(self) -> None:
        self._pending: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = dict(
            python=random.getstate(),
            numpy=np.random.get_state(),
            torch=torch.get_rng_state(),
        )
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state['cuda'] = torch.cuda.get_rng_state_all()
        checkpoint.setdefault('meta', {})['random_state'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # The Runner may still re-seed after loading; apply the states when training starts.
        self._pending = checkpoint.get('meta', {}).get('random_state')

    def before_train(self, runner) -> None:
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        python = state['python']
        random.setstate((python[0], tuple(python[1]), python[2]))
        np.random.set_state(tuple(state['numpy']))
        torch.set_rng_state(state['torch'])
        if 'cuda' in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])
        runner.logger.info('RandomStateHook: random generators restored from the checkpoint')
