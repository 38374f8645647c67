"""RandomStateHook: each rank gets its own generator states back, as CPU ByteTensors."""

import random
from types import SimpleNamespace
from unittest import mock

import numpy as np
import torch
from mmengine.hooks import CheckpointHook

import mls_plugin.runtime.random_state_hook as module
from mls_plugin.runtime.random_state_hook import RandomStateHook


def draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def runner():
    return SimpleNamespace(logger=mock.MagicMock())


def saved_checkpoint(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    checkpoint = {}
    RandomStateHook().before_save_checkpoint(runner(), checkpoint)
    return checkpoint, draws()


def restore(checkpoint, run=None):
    hook = RandomStateHook()
    hook.after_load_checkpoint(run or runner(), checkpoint)
    random.seed(99)
    np.random.seed(99)
    torch.manual_seed(99)  # what mmengine's re-seeding does on resume
    hook.before_train(run or runner())


def test_a_state_loaded_off_the_cpu_or_in_another_dtype_is_restored():
    """mmengine may map a resumed checkpoint onto the GPU: torch.set_rng_state then refuses
    anything but a CPU ByteTensor. Stand-in on CPU: the state as int64 (not a ByteTensor)."""
    checkpoint, expected = saved_checkpoint(0)
    (state,) = checkpoint['meta']['random_state']['ranks']
    state['torch'] = state['torch'].to(torch.int64)
    with mock.patch.object(module.torch, 'set_rng_state', wraps=torch.set_rng_state) as spy:
        restore(checkpoint)
    (arg,), _ = spy.call_args
    assert arg.dtype == torch.uint8 and arg.device.type == 'cpu'
    assert draws() == expected


def training_runner(it, saver):
    return SimpleNamespace(
        logger=mock.MagicMock(),
        hooks=[saver],
        epoch=0,
        iter=it,
        max_iters=10,
        max_epochs=1,
    )


def test_each_rank_restores_its_own_states(monkeypatch):
    (rank0,) = saved_checkpoint(0)[0]['meta']['random_state']['ranks']
    _, expected1 = saved_checkpoint(1)
    # Two ranks: only rank 0 runs before_save_checkpoint (a collective there would hang the
    # others), so the states are gathered after the iterations where CheckpointHook saves.
    gathers = []
    monkeypatch.setattr(module, 'get_world_size', lambda: 2)
    monkeypatch.setattr(
        module, 'all_gather_object', lambda state: gathers.append(1) or [rank0, state]
    )
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    hook, saver = RandomStateHook(), CheckpointHook(interval=2, by_epoch=False)
    for it in range(4):  # CheckpointHook saves after iterations 2 and 4 (iter 1 and 3)
        hook.after_train_iter(training_runner(it, saver), it)
    assert len(gathers) == 2
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    gathers.clear()
    hook.after_train_iter(training_runner(5, saver), 5)
    assert len(gathers) == 1
    checkpoint = {}
    hook.before_save_checkpoint(training_runner(5, saver), checkpoint)
    assert len(gathers) == 1  # no collective in the rank-0-only hook
    assert len(checkpoint['meta']['random_state']['ranks']) == 2
    # A save at a step without a gather (e.g. before a non-finite loss) holds rank 0's only.
    other = {}
    hook.before_save_checkpoint(training_runner(6, saver), other)
    assert len(other['meta']['random_state']['ranks']) == 1
    # Rank 1 of two gets rank 1's streams, not rank 0's.
    monkeypatch.setattr(module, 'get_rank', lambda: 1)
    restore(checkpoint)
    assert draws() == expected1


def test_another_number_of_ranks_keeps_the_seeded_streams_and_warns(monkeypatch):
    checkpoint, _ = saved_checkpoint(0)
    monkeypatch.setattr(module, 'get_world_size', lambda: 2)
    run = runner()
    restore(checkpoint, run)
    random.seed(99)
    np.random.seed(99)
    torch.manual_seed(99)
    reseeded = draws()
    restore(checkpoint, run)  # restore() re-seeds with 99, then the hook must not touch it
    assert draws() == reseeded
    (message,), _ = run.logger.warning.call_args
    assert 'random states of 1 rank(s) and this run has 2' in message


def test_checkpoints_of_the_one_rank_format_still_restore():
    checkpoint, expected = saved_checkpoint(3)
    (state,) = checkpoint['meta']['random_state']['ranks']
    checkpoint['meta']['random_state'] = state  # as saved before per-rank states
    restore(checkpoint)
    assert draws() == expected
