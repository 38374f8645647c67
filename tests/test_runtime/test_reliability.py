"""Non-finite losses, bad configs: refused early, nothing good lost."""

import copy
import math
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub

from mls_plugin.models import QueueMemory
from mls_plugin.runtime import (
    GuardedOptimWrapper,
    NonFiniteLossError,
    check_queue_fits_global_batch,
)


def make_wrapper(**kwargs):
    MessageHub.get_instance('reliability_test')
    param = torch.nn.Parameter(torch.ones(3))
    sgd = torch.optim.SGD([param], lr=0.1)
    return param, GuardedOptimWrapper(optimizer=sgd, **kwargs)


def test_finite_loss_steps():
    param, wrapper = make_wrapper()
    wrapper.update_params((param * 2).sum())
    assert torch.allclose(param.detach(), torch.full((3,), 0.8))


def test_nonfinite_loss_stops_before_the_step():
    param, wrapper = make_wrapper()
    with pytest.raises(NonFiniteLossError, match=r'loss is nan .*before the optimizer step'):
        wrapper.update_params((param * float('nan')).sum())
    assert torch.equal(param.detach(), torch.ones(3)) and param.grad is None


def test_nonfinite_loss_skipped_then_training_goes_on():
    param, wrapper = make_wrapper(on_nonfinite='skip', max_consecutive_skips=2)
    wrapper.update_params((param * float('inf')).sum())
    assert torch.equal(param.detach(), torch.ones(3)) and wrapper.skipped_steps == 1
    wrapper.update_params((param * 2).sum())
    assert torch.allclose(param.detach(), torch.full((3,), 0.8))
    for _ in range(2):
        wrapper.update_params((param * float('nan')).sum())
    with pytest.raises(NonFiniteLossError, match='3 non-finite step'):
        wrapper.update_params((param * float('nan')).sum())


def test_bad_guard_option():
    with pytest.raises(ValueError, match='on_nonfinite'):
        make_wrapper(on_nonfinite='ignore')


@pytest.mark.parametrize('dtypes', [None, dict(g='int8')])
def test_nonfinite_keys_leave_the_queue_unchanged(dtypes):
    mem = QueueMemory(length=8, banks=dict(g=4, z=2), dtypes=dtypes)
    before = {k: v.clone() for k, v in mem.state_dict().items()}
    g = torch.randn(4, 4)
    g[1, 2] = float('nan')
    mem.enqueue(g=g, z=torch.randn(4, 2))
    for key, value in mem.state_dict().items():
        if key != 'ptr':  # decided on the device, so the pointer moves on regardless
            assert torch.equal(value, before[key]), key
    assert int(mem.ptr) == 4
    mem.enqueue(g=torch.randn(4, 4), z=torch.randn(4, 2))  # the next good keys are written
    assert torch.isfinite(mem.bank('g')).all() and not torch.equal(mem.bank('g'), before['bank_g'])


@pytest.mark.parametrize(
    'batch,world,drop_last,match',
    [
        (48, 1, True, r'model.memory.length \(4096\) .* global batch 48'),
        (32, 3, True, r'global batch 96 \(train_dataloader.batch_size 32 x 3'),
        (32, 8, False, 'drop_last must be True'),
    ],
)
def test_queue_and_global_batch_checked_before_training(
    batch, world, drop_last, match, monkeypatch
):
    cfg = Config(
        dict(
            launcher='pytorch',
            model=dict(memory=dict(length=4096)),
            train_dataloader=dict(batch_size=batch, drop_last=drop_last),
        )
    )
    monkeypatch.setenv('WORLD_SIZE', str(world))
    with pytest.raises(ValueError, match=match):
        check_queue_fits_global_batch(cfg)
    cfg.train_dataloader.update(batch_size=32, drop_last=True)
    monkeypatch.setenv('WORLD_SIZE', '8')
    check_queue_fits_global_batch(cfg)  # the paper's 8 x 32 into 4096


@pytest.mark.parametrize(
    'launcher,env,world',
    [
        ('none', dict(SLURM_NTASKS='8', WORLD_SIZE='8'), 1),  # a debug run inside salloc
        ('slurm', dict(SLURM_NTASKS='3'), 3),
        ('mpi', dict(OMPI_COMM_WORLD_SIZE='3'), 3),
        ('pytorch', dict(WORLD_SIZE='3', SLURM_NTASKS='8'), 3),
    ],
)
def test_world_size_is_read_from_the_launchers_own_variable(launcher, env, world, monkeypatch):
    for name in ('WORLD_SIZE', 'SLURM_NTASKS', 'OMPI_COMM_WORLD_SIZE'):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    cfg = Config(
        dict(
            launcher=launcher,
            model=dict(memory=dict(length=64)),
            train_dataloader=dict(batch_size=32, drop_last=True),
        )
    )
    if world == 3:
        with pytest.raises(ValueError, match=r'global batch 96 .* x 3 processes'):
            check_queue_fits_global_batch(cfg)
    else:
        check_queue_fits_global_batch(cfg)  # 64 = 2 x 32 on one process


@pytest.mark.slow
def test_training_that_diverges_stops_with_the_last_good_state(
    repo_root, coco_tiny_options, tmp_path
):
    opts = {
        **coco_tiny_options(),
        'train_dataloader.dataset.indices': 32,
        'optim_wrapper.optimizer.lr': 1e30,  # diverges within two steps
        'default_hooks.logger.interval': 1,
    }
    cmd = [
        sys.executable,
        'tools/train.py',
        'tests/configs/mls_resnet18_cpu-e2e.py',
    ]
    cmd += ['--work-dir', str(tmp_path), '--cfg-options', *(f'{k}={v}' for k, v in opts.items())]
    res = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=300)
    log = res.stdout + res.stderr
    assert res.returncode != 0
    assert 'NonFiniteLossError' in log and 'before the optimizer step' in log
    saved = sorted(tmp_path.glob('before_nonfinite_iter_*.pth'))
    assert len(saved) == 1, log[-2000:]
    ckpt = torch.load(saved[0], weights_only=True)
    stopped_at = int(saved[0].stem.rsplit('_', 1)[1])
    assert ckpt['meta']['iter'] == stopped_at - 1 >= 1
    assert f'at iteration {stopped_at}' in log


def test_config_with_bad_queue_fails_fast(repo_root, tmp_path):
    cmd = [
        sys.executable, 'tools/train.py', 'configs/mls/mls_resnet50_8xb32-coslr-800e_coco.py',
        '--work-dir', str(tmp_path), '--cfg-options', 'train_dataloader.batch_size=48',
    ]  # fmt: skip
    res = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert res.returncode != 0
    assert 'model.memory.length (4096) must be a multiple of the global batch 48' in res.stderr


def test_checkpoint_killed_while_written_keeps_the_last_good_one(tmp_path):
    """SIGKILL in the middle of a (large) checkpoint write: the old file survives intact."""
    import signal
    import time

    from mls_plugin.runtime import AtomicLocalBackend

    target = tmp_path / 'latest.pth'
    torch.save({'state_dict': {'w': torch.ones(3)}}, target)
    good = target.read_bytes()
    writer = (
        'import sys; from mls_plugin.runtime import AtomicLocalBackend; '
        'AtomicLocalBackend().put(b"x" * (1 << 30), sys.argv[1])'
    )
    proc = subprocess.Popen([sys.executable, '-c', writer, str(target)])
    deadline = time.time() + 120
    while not any(p.stat().st_size > 0 for p in tmp_path.glob('.latest.pth.*.tmp')):
        assert proc.poll() is None and time.time() < deadline, 'the writer never started'
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert target.read_bytes() == good
    assert torch.equal(torch.load(target, weights_only=True)['state_dict']['w'], torch.ones(3))
    # The next write replaces the file and clears the killed writer's temporary.
    AtomicLocalBackend().put(b'new', str(target))
    assert target.read_bytes() == b'new'
    assert [p.name for p in tmp_path.iterdir()] == ['latest.pth']


def _paper_config(monkeypatch, world):
    from mmengine.config import Config

    monkeypatch.setenv('WORLD_SIZE', str(world))
    cfg = Config.fromfile('configs/mls/mls_resnet50_8xb32-coslr-800e_coco.py')
    cfg.launcher = 'pytorch'
    cfg.auto_scale_lr.enable = True
    return cfg


def test_eight_nodes_warn_that_the_queue_holds_two_steps(monkeypatch):
    from unittest import mock

    from mmengine.logging import MMLogger

    from mls_plugin.runtime import check_queue_steps

    paper = _paper_config(monkeypatch, 8)  # the paper's 8 x 32: 16 steps
    with mock.patch.object(MMLogger.get_current_instance(), 'log') as warning:
        check_queue_steps(paper)
    assert warning.call_count == 0
    eight_nodes = _paper_config(monkeypatch, 64)  # 8 nodes: 2,048 keys a step
    with mock.patch.object(MMLogger.get_current_instance(), 'log') as warning:
        check_queue_steps(eight_nodes)
    assert warning.call_count == 1
    level, message = warning.call_args[0]
    assert level == 30  # logging.WARNING
    assert 'holds 2 steps' in message and 'holds 16' in message
    assert 'model.memory.length=32768' in message


def test_auto_scaled_lr_gets_a_warm_up_from_the_unscaled_lr(monkeypatch):
    """64 GPUs x 32: lr 0.3 x 8 = 2.4, reached after 5 epochs of linear warm-up from 0.3."""
    import torch
    from mmengine.optim.scheduler import CosineAnnealingLR, LinearLR

    from mls_plugin.runtime import warm_up_scaled_lr

    cfg = _paper_config(monkeypatch, 8)
    before = copy.deepcopy(cfg.param_scheduler)
    warm_up_scaled_lr(cfg)  # the paper's batch: nothing to warm up
    assert cfg.param_scheduler == before

    cfg = _paper_config(monkeypatch, 64)
    warm_up_scaled_lr(cfg)
    warmup, cosine = cfg.param_scheduler
    assert warmup['type'] == 'LinearLR' and warmup['end'] == 5 and warmup['start_factor'] == 1 / 8
    assert (cosine['begin'], cosine['end'], cosine['T_max']) == (5, 800, 795)
    # The lr the two schedulers give, epoch by epoch, on the scaled lr (mmengine's own classes).
    scaled = 0.3 * 8
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=scaled)
    kinds = dict(LinearLR=LinearLR, CosineAnnealingLR=CosineAnnealingLR)
    schedulers = [
        kinds[s['type']](
            opt, **{k: v for k, v in s.items() if k not in ('type', 'convert_to_iter_based')}
        )
        for s in cfg.param_scheduler
    ]
    lrs = []
    for _ in range(800):
        lrs.append(opt.param_groups[0]['lr'])
        opt.step()
        for s in schedulers:
            s.step()
    assert lrs[0] == pytest.approx(0.3)
    assert all(a < b for a, b in zip(lrs[:4], lrs[1:5]))  # rising during the warm-up
    assert lrs[4] == pytest.approx(scaled) and lrs[5] == pytest.approx(scaled)
    assert lrs[400] == pytest.approx(scaled * (1 + math.cos(math.pi * 395 / 795)) / 2, rel=1e-6)
