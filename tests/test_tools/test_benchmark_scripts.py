"""The benchmark scripts of tools/benchmarks at toy sizes: they run and report what they say.

They are timed on real sizes by hand (docs/performance.md); here only their plumbing and the
numbers that do not depend on the machine are checked.
"""

import json
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F


def run(repo_root, script, *args):
    cmd = [sys.executable, str(repo_root / 'tools/benchmarks' / script), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=repo_root)


@pytest.mark.slow
@pytest.mark.parametrize('g_dtype,amp', [('float32', False), ('int8', True)])
def test_train_step_compares_mls_with_moco(repo_root, tmp_path, g_dtype, amp):
    """Also with --amp, which on CPU is bfloat16 autocast (mmengine's AMP wrapper needs CUDA)."""
    out = tmp_path / 'step.json'
    res = run(
        repo_root,
        'train_step.py',
        *('--depth', 18, '--img', 32, '--batch', 4, '--queue', 64, '--topk', 3),
        *('--iters', 1, '--repeats', 2, '--warmup', 1, '--memory-repeats', 1),
        *('--g-dtype', g_dtype, '--out', out),
        *(['--amp'] if amp else []),
    )
    assert res.returncode == 0, res.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result['settings']['g_dtype'] == g_dtype
    assert len(result['step_s_per_repeat']['mls']) == 2
    ratio = result['step_s']['mls'] / result['step_s']['moco']
    assert result['time_ratio'] == pytest.approx(ratio)
    assert all(v > 0 for v in result['peak_mb'].values())
    assert f'Q_g {g_dtype} cpu{" amp" if amp else ""}:' in res.stdout


@pytest.mark.slow
def test_head_benchmark_times_every_setting(repo_root, tmp_path):
    out = tmp_path / 'head.json'
    res = run(
        repo_root,
        'head.py',
        *('--queues', 64, 128, '--topks', 1, 5, '--batches', 8),
        *('--dim-g', 16, '--dim-z', 8, '--repeats', 1, '--g-dtype', 'int8', '--out', out),
    )
    assert res.returncode == 0, res.stderr[-2000:]
    rows = json.loads(out.read_text())['rows']
    assert [(r['queue'], r['topk']) for r in rows] == [(64, 1), (64, 5), (128, 1), (128, 5)]
    for r in rows:
        assert r['extra_ms'] == pytest.approx(r['mls_ms'] - r['infonce_ms'])


def test_label_agreement_on_a_saved_queue(repo_root, tmp_path):
    """Well-separated clusters: every precision finds the same neighbours; a checkpoint
    without the bank is refused by name."""
    gen = torch.Generator().manual_seed(0)
    centres = F.normalize(torch.randn(8, 32, generator=gen), dim=1)
    bank = centres.repeat_interleave(16, dim=0) + 0.01 * torch.randn(128, 32, generator=gen)
    ckpt = tmp_path / 'run.pth'
    torch.save(dict(state_dict={'memory.bank_g': F.normalize(bank, dim=1)}), ckpt)
    out = tmp_path / 'agree.json'
    res = run(repo_root, 'label_agreement.py', ckpt, '--topks', 15, '--out', out)
    assert res.returncode == 0, res.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result['queue'] == [128, 32]
    # The 15 other members of a query's cluster are its top 15, in any precision.
    assert result['overlap'] == {'bfloat16': {'15': 1.0}, 'int8': {'15': 1.0}}

    torch.save(dict(state_dict={'memory.bank_z': bank}), ckpt)
    res = run(repo_root, 'label_agreement.py', ckpt)
    assert res.returncode != 0 and 'no `memory.bank_g`' in res.stderr


def _run_seeds_module(repo_root):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        'run_seeds', repo_root / 'tools/benchmarks/run_seeds.py'
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_seeds_reports_the_last_and_the_best_validation(repo_root, tmp_path):
    import json

    tool = _run_seeds_module(repo_root)
    logs = tmp_path / 'run' / '20261206_000000' / 'vis_data'
    logs.mkdir(parents=True)
    records = [
        dict(loss=2.0, lr=0.01, step=10),
        {'accuracy/top1': 60.0, 'step': 10},
        dict(loss=1.5, lr=0.005, step=20),
        {'accuracy/top1': 71.5, 'step': 20},  # the best test epoch
        dict(loss=1.2, lr=0.001, step=30),
        {'accuracy/top1': 70.25, 'step': 30},  # the last
    ]
    (logs / 'scalars.json').write_text('\n'.join(json.dumps(r) for r in records) + '\n')
    assert tool.final_metrics(str(tmp_path / 'run')) == {
        'accuracy/top1': 70.25,
        'best/accuracy/top1': 71.5,
    }


def test_run_seeds_sweeps_the_lr_every_seed_at_every_lr(repo_root, tmp_path, monkeypatch):
    tool = _run_seeds_module(repo_root)
    calls = []

    def fake_run_seed(args, seed, work_dir, extra):
        calls.append((seed, work_dir, extra))
        return {'accuracy/top1': 50.0 + seed + float(extra[0].split('=')[1])}

    monkeypatch.setattr(tool, 'run_seed', fake_run_seed)
    table = tmp_path / 'rows.md'
    argv = ['run_seeds.py', 'configs/benchmarks/finetune/resnet50_cub-120e.py', '--seeds', '0', '1']
    argv += ['--lrs', '0.001', '0.1', '--work-dir', str(tmp_path), '--markdown', str(table)]
    monkeypatch.setattr('sys.argv', argv)
    tool.main()
    assert [(s, w.rsplit('/', 1)[1], e) for s, w, e in calls] == [
        (0, 'lr0.001', ['optim_wrapper.optimizer.lr=0.001']),
        (1, 'lr0.001', ['optim_wrapper.optimizer.lr=0.001']),
        (0, 'lr0.1', ['optim_wrapper.optimizer.lr=0.1']),
        (1, 'lr0.1', ['optim_wrapper.optimizer.lr=0.1']),
    ]
    rows = table.read_text().splitlines()
    assert len(rows) == 2 and 'lr 0.001 | 0,1 |' in rows[0] and 'lr 0.1 | 0,1 |' in rows[1]
    assert (tmp_path / 'lr0.1' / 'summary.json').is_file()


def test_small_dataset_recipe_uses_the_groups_weight_decay(repo_root):
    from mmengine.config import Config

    cfg = Config.fromfile(str(repo_root / 'configs/benchmarks/finetune/resnet50_dtd-120e.py'))
    assert cfg.optim_wrapper.optimizer.weight_decay == 5e-4  # inherited from the CUB config
