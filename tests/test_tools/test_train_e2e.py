"""tools/train.py on the real COCO images of coco_tiny, then --resume."""

import json
import os
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import mls_plugin  # noqa: F401  (the checkpoint allow-list)

pytestmark = pytest.mark.slow

CONFIG = 'tests/configs/mls_resnet18_cpu-e2e.py'


def overrides(coco_tiny_options, epochs):
    return {
        **coco_tiny_options(size=48, queue=64),
        'train_cfg.max_epochs': epochs,
        'default_hooks.logger.interval': 1,
        'default_hooks.checkpoint.interval': 1,
    }


def train(repo_root, work_dir, coco_tiny_options, epochs, *extra):
    cmd = [sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(work_dir), *extra]
    cmd += ['--cfg-options', *(f'{k}={v}' for k, v in overrides(coco_tiny_options, epochs).items())]
    return subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=600)


def scalars(work_dir):
    rows = []
    for path in sorted(work_dir.glob('*/vis_data/scalars.json')):
        rows += [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in rows if 'loss' in r]


def test_train_then_resume(repo_root, coco_tiny_options, tmp_path):
    work = tmp_path / 'work'
    first = train(repo_root, work, coco_tiny_options, 1)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    rows = scalars(work)
    assert len(rows) == 10  # 80 images / batch 8, drop_last
    for r in rows:
        assert {'loss_nce', 'loss_ml', 'loss'} <= set(r)
        assert all(map(lambda v: v == v and abs(v) < 1e4, (r['loss_nce'], r['loss_ml'])))
        assert r['loss'] == pytest.approx(r['loss_nce'] + r['loss_ml'], abs=1e-3)
    ckpt_path = work / 'epoch_1.pth'
    state = torch.load(ckpt_path, weights_only=True)['state_dict']
    assert int(state['memory.ptr']) == 80 % 64
    assert state['memory.bank_g'].shape == (64, 512) and state['memory.bank_z'].shape == (64, 128)

    # Resuming restores the queues and the pointer, not a fresh random queue.
    cfg = Config.fromfile(str(repo_root / CONFIG))
    cfg.merge_from_dict(overrides(coco_tiny_options, 2))
    cfg.merge_from_dict(dict(resume=True, load_from=str(ckpt_path)))
    cfg.work_dir = str(tmp_path / 'probe')
    runner = Runner.from_cfg(cfg)
    fresh_g = runner.model.memory.bank('g').clone()
    runner.load_or_resume()
    assert not torch.equal(fresh_g, state['memory.bank_g'])
    for key in ('bank_g', 'bank_z', 'ptr'):
        assert torch.equal(getattr(runner.model.memory, key), state[f'memory.{key}']), key
    assert runner.iter == 10 and runner.epoch == 1

    second = train(repo_root, work, coco_tiny_options, 2, '--resume')
    log = second.stdout + second.stderr
    assert second.returncode == 0, log[-3000:]
    assert 'resumed' in log.lower() and 'epoch_1.pth' in log
    rows = scalars(work)
    assert [r['iter'] for r in rows][-10:] == list(range(11, 21))
    final = torch.load(work / 'epoch_2.pth', weights_only=True)['state_dict']
    assert int(final['memory.ptr']) == 160 % 64


def test_two_process_training_with_shuffle_bn(repo_root, coco_tiny_options, tmp_path, free_port):
    """tools/dist_train.sh with 2 CPU processes (gloo): shuffle-BN and gathered enqueue."""
    work = tmp_path / 'dist'
    opts = {**overrides(coco_tiny_options, 1), 'env_cfg.dist_cfg.backend': 'gloo'}
    env = {**os.environ, 'PYTHON': sys.executable, 'PORT': str(free_port)}
    cmd = ['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir', str(work)]
    cmd += ['--cfg-options', *(f'{k}={v}' for k, v in opts.items())]
    run = subprocess.run(cmd, cwd=repo_root, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    rows = scalars(work)
    assert len(rows) == 5  # 80 images / (2 ranks x 8)
    assert all(r['loss_ml'] > 0 and r['loss_nce'] > 0 for r in rows)
    state = torch.load(work / 'epoch_1.pth', weights_only=True)['state_dict']
    assert int(state['memory.ptr']) == 80 % 64  # each step wrote the global batch of 16
