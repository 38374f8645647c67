"""A run stopped after one epoch and resumed equals the uninterrupted run."""

import json
import subprocess
import sys

import pytest
import torch

import mls_plugin  # noqa: F401

pytestmark = pytest.mark.slow

CONFIG = 'tests/configs/mls_resnet18_cpu-e2e.py'


def train(repo_root, coco_tiny_options, work, max_epochs, *extra):
    opts = {
        **coco_tiny_options(),
        'train_dataloader.dataset.indices': 32,
        'train_cfg.max_epochs': max_epochs,
        # The schedule is that of the 2-epoch run in both cases.
        'param_scheduler.0.T_max': 2,
        'param_scheduler.0.end': 2,
        'default_hooks.logger.interval': 1,
        'default_hooks.checkpoint.interval': 1,
        'randomness.seed': 0,
        'randomness.deterministic': True,
    }
    cmd = [sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(work), *extra]
    cmd += ['--cfg-options', *(f'{k}={v}' for k, v in opts.items())]
    res = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    return res.stdout + res.stderr


def losses(work):
    rows = []
    for path in sorted(work.glob('*/vis_data/scalars.json')):
        rows += [json.loads(line) for line in path.read_text().splitlines()]
    return {r['iter']: (r['loss_nce'], r['loss_ml']) for r in rows if 'loss' in r}


def test_resumed_run_matches_uninterrupted_run(repo_root, coco_tiny_options, tmp_path):
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    train(repo_root, coco_tiny_options, straight, 2)
    train(repo_root, coco_tiny_options, resumed, 1)
    out = train(repo_root, coco_tiny_options, resumed, 2, '--resume')
    assert 'random generators restored' in out

    a, b = losses(straight), losses(resumed)
    assert sorted(a) == sorted(b) == list(range(1, 9))  # 32 images / batch 8, 2 epochs
    for it in range(5, 9):  # the resumed epoch
        assert b[it] == pytest.approx(a[it], rel=1e-5, abs=1e-6), it

    sa = torch.load(straight / 'epoch_2.pth', weights_only=True)
    sb = torch.load(resumed / 'epoch_2.pth', weights_only=True)
    assert sa['state_dict'].keys() == sb['state_dict'].keys()
    for key, value in sa['state_dict'].items():  # weights, EMA encoder, queues, pointer
        assert torch.allclose(value.float(), sb['state_dict'][key].float(), atol=1e-5), key
    ma, mb = sa['optimizer']['state'], sb['optimizer']['state']
    assert all(
        torch.allclose(ma[i]['momentum_buffer'], mb[i]['momentum_buffer'], atol=1e-5) for i in ma
    )
    assert sa['param_schedulers'] == sb['param_schedulers']


def test_without_the_random_state_the_augmentations_differ(repo_root, coco_tiny_options, tmp_path):
    """The control: the hook is what makes the resumed epoch equal."""
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    off = ['--cfg-options', 'custom_hooks=[]']
    train(repo_root, coco_tiny_options, straight, 2, *off)
    train(repo_root, coco_tiny_options, resumed, 1, *off)
    train(repo_root, coco_tiny_options, resumed, 2, '--resume', *off)
    a, b = losses(straight), losses(resumed)
    assert any(b[it] != pytest.approx(a[it], rel=1e-5) for it in range(5, 9))
