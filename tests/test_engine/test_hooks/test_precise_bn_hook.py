"""PreciseBNIterHook: BN statistics averaged over N batches of any train loader."""

from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.dataset import default_collate
from mmengine.model import BaseModel
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler

from mls_plugin.engine import PreciseBNIterHook


class Tiny(BaseModel):
    def __init__(self):
        super().__init__(data_preprocessor=dict(type='BaseDataPreprocessor'))
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.frozen = nn.BatchNorm2d(4).eval()  # eval mode: left alone

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.bn(self.conv(inputs))


def loader_with_a_batch_sampler(size=24, batch=4):
    """Batches from a batch sampler, as mmdet's AspectRatioBatchSampler: batch_size is None."""
    gen = torch.Generator().manual_seed(1)
    items = [dict(inputs=torch.randn(3, 8, 8, generator=gen) * 3 + 1) for _ in range(size)]
    sampler = BatchSampler(SequentialSampler(items), batch_size=batch, drop_last=True)
    return DataLoader(items, batch_sampler=sampler, collate_fn=default_collate)


def test_running_stats_are_the_mean_of_the_batches_statistics():
    model = Tiny().train()
    model.frozen.eval()
    loader = loader_with_a_batch_sampler()
    assert loader.batch_size is None  # where mmpretrain's PreciseBNHook divides and fails
    runner = SimpleNamespace(
        model=model,
        train_dataloader=loader,
        iter=9,
        max_iters=100,
        logger=SimpleNamespace(info=print),
    )
    frozen_before = model.frozen.running_mean.clone()
    hook = PreciseBNIterHook(num_iters=5, interval=10)
    hook.after_train_iter(runner, 9)  # iteration 10: due
    with torch.no_grad():
        feats = [model.conv(b['inputs']) for _, b in zip(range(5), loader)]
    means = torch.stack([f.mean(dim=(0, 2, 3)) for f in feats]).mean(0)
    variances = torch.stack([f.var(dim=(0, 2, 3), unbiased=True) for f in feats]).mean(0)
    torch.testing.assert_close(model.bn.running_mean, means)
    torch.testing.assert_close(model.bn.running_var, variances)
    assert model.bn.momentum == 0.1  # restored
    assert torch.equal(model.frozen.running_mean, frozen_before)
    # Not due at iteration 11; the batches continue where they stopped (no restart each time).
    runner.iter = 10
    hook.after_train_iter(runner, 10)
    torch.testing.assert_close(model.bn.running_mean, means)


def test_precise_bn_hook_validates_its_arguments():
    for bad in (dict(num_iters=0), dict(interval=-1), dict(num_iters=2.5)):
        with pytest.raises(ValueError, match='PreciseBNIterHook'):
            PreciseBNIterHook(**bad)
