"""Save and restore the random number generators with every checkpoint."""

import random
from typing import List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import CheckpointHook, Hook
from mmengine.registry import HOOKS


def _rng_tensor(state) -> torch.Tensor:
    """A generator state as the CPU ByteTensor torch requires, wherever the checkpoint put it
    (mmengine may load a resumed checkpoint onto the GPU)."""
    return torch.as_tensor(state).to(device='cpu', dtype=torch.uint8)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Make ``--resume`` continue the random streams where they stopped.

    mmengine checkpoints the model, optimizer, schedulers and counters, and
    re-seeds on resume, so augmentations after a resume differ from those of
    an uninterrupted run. This hook stores, for every rank, the states of
    Python's ``random``, NumPy's global generator, torch's CPU generator and
    the generator of the rank's own CUDA device in
    ``checkpoint['meta']['random_state']['ranks']`` and, when training starts
    from a resumed checkpoint, gives each rank its own state back. Data-loader
    workers are seeded from the torch generator each epoch, so with
    ``num_workers=0`` or non-persistent workers a resumed run repeats the
    uninterrupted one exactly (in deterministic mode). A resume with another
    number of ranks cannot continue per-rank streams: the states are then
    left as mmengine seeded them, with a warning.

    Only rank 0 saves (and runs ``before_save_checkpoint``), so the other
    ranks hand their states over with a small object all-gather, at the steps
    where a ``CheckpointHook`` will save and at no other. A checkpoint saved
    at another step (e.g. by ``tools/train.py`` before a non-finite loss)
    holds rank 0's states only, and a multi-rank resume from it is warned
    about and not restored.
    """

    # After the NORMAL hooks' before_train (a monitor that builds a data loader draws from the
    # torch generator), and before CheckpointHook (VERY_LOW), so that the states gathered at
    # the end of an iteration or epoch are those the checkpoint of that step stores.
    priority = 'LOW'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None
        self._gathered: Optional[list] = None
        self._gathered_at: Optional[tuple] = None

    @staticmethod
    def _own_state() -> dict:
        state = dict(
            python=random.getstate(),
            numpy=np.random.get_state(),
            torch=torch.get_rng_state(),
        )
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state['cuda'] = torch.cuda.get_rng_state()  # this rank's device only
        return state

    @staticmethod
    def _savers(runner) -> List[CheckpointHook]:
        return [hook for hook in runner.hooks if isinstance(hook, CheckpointHook)]

    def _gather(self, runner) -> None:
        self._gathered = all_gather_object(self._own_state())
        self._gathered_at = (runner.epoch, runner.iter)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        # The same test as CheckpointHook.after_train_iter, which runs after this hook.
        if get_world_size() > 1 and any(
            not hook.by_epoch
            and (
                hook.every_n_train_iters(runner, hook.interval, hook.save_begin)
                or (hook.save_last and hook.is_last_train_iter(runner))
            )
            for hook in self._savers(runner)
        ):
            self._gather(runner)

    def after_train_epoch(self, runner) -> None:
        # The same test as CheckpointHook.after_train_epoch, which runs after this hook.
        if get_world_size() > 1 and any(
            hook.by_epoch
            and (
                hook.every_n_epochs(runner, hook.interval, hook.save_begin)
                or (hook.save_last and hook.is_last_train_epoch(runner))
            )
            for hook in self._savers(runner)
        ):
            self._gather(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if get_world_size() > 1 and self._gathered_at == (runner.epoch, runner.iter):
            ranks = self._gathered
        else:
            ranks = [self._own_state()]
        checkpoint.setdefault('meta', {})['random_state'] = dict(ranks=ranks)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # The Runner may still re-seed after loading; apply the states when training starts.
        self._pending = checkpoint.get('meta', {}).get('random_state')

    def before_train(self, runner) -> None:
        if self._pending is None:
            return
        saved, self._pending = self._pending, None
        ranks = saved['ranks'] if 'ranks' in saved else [saved]  # one-rank format of 2026-11
        if len(ranks) != get_world_size():
            runner.logger.warning(
                f'RandomStateHook: the checkpoint holds the random states of {len(ranks)} '
                f'rank(s) and this run has {get_world_size()}; the streams are not restored '
                '(resume with as many ranks to repeat the uninterrupted run)'
            )
            return
        state = ranks[get_rank()]
        python = state['python']
        random.setstate((python[0], tuple(python[1]), python[2]))
        np.random.set_state(tuple(state['numpy']))
        torch.set_rng_state(_rng_tensor(state['torch']))
        if 'cuda' in state and torch.cuda.is_available():
            torch.cuda.set_rng_state(_rng_tensor(state['cuda']))
        runner.logger.info('RandomStateHook: random generators restored from the checkpoint')
