"""tools/gpu_study.py: its plan fits the budget, and its study config runs at a tiny size."""

import importlib.util
import json
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

import mls_plugin  # noqa: F401


@pytest.fixture(scope='module')
def study(repo_root):
    spec = importlib.util.spec_from_file_location('gpu_study', repo_root / 'tools/gpu_study.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_plan_fits_the_budget_and_gives_up_seeds_before_epochs(study):
    args = study.parse_args([])
    plan = study.plan_study(args, 1601, 32)
    assert plan['steps_per_epoch'] == 50 and plan['methods'] == ['mls', 'infonce']
    assert plan['estimated_s'] <= args.budget_s
    assert plan['runs'] == 2 * len(plan['seeds'])
    # Three seeds while they leave at least --min-epochs each, else fewer seeds.
    slow = study.parse_args(['--step-s', '0.2'])
    fewer = study.plan_study(slow, 1601, 32)
    assert len(fewer['seeds']) < 3 and fewer['estimated_s'] <= slow.budget_s
    assert study.plan_study(study.parse_args(['--step-s', '1e-4']), 1601, 32)['epochs'] == 400
    with pytest.raises(ValueError, match='no epoch fits'):
        study.plan_study(study.parse_args(['--run-overhead-s', '500']), 1601, 32)


def test_plan_mode_at_a_tiny_size_writes_a_config_that_trains_from_resident_canvases(
    repo_root, coco_scenes, tmp_path
):
    cmd = [sys.executable, 'tools/gpu_study.py', '--plan', '--indices', '64']
    cmd += ['--data-root', str(coco_scenes.parent), '--work-dir', str(tmp_path)]
    run = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    plan = json.loads(run.stdout[run.stdout.index('{') :])
    assert plan['images'] == 64 and plan['steps_per_epoch'] == 2
    assert plan['estimated_s'] <= plan['budget_s']
    command = plan['command']
    assert command[1].endswith('tools/analysis/compare_pretraining.py')
    source = (repo_root / 'tools/analysis/compare_pretraining.py').read_text()
    for flag in (a for a in command if a.startswith('--')):
        assert f"'{flag}'" in source, flag  # an option compare_pretraining.py defines
    assert command[command.index('--epochs') + 1] == str(plan['epochs'])

    # The config it wrote: 64 resident canvases (on the CPU here), views from the preprocessor.
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(plan['config'])
    assert cfg.train_dataloader.dataset.type == 'ResidentCanvasDataset'
    cfg.train_dataloader.dataset.data_root = f'{coco_scenes}/'  # as compare_pretraining sets it
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    assert len(loader.dataset) == 64 and loader.dataset.canvases.device.type == 'cpu'
    batch = next(iter(loader))
    assert batch['inputs'].dtype == torch.uint8 and batch['inputs'].shape == (32, 3, 240, 240)
    views = MODELS.build(dict(cfg.data_preprocessor, seed=0))(batch, True)['inputs']
    assert [v.shape for v in views] == [(32, 3, 64, 64)] * 2
