"""Two gloo processes with batch 8 each train exactly like one process with batch 16.

With a per-sample normalisation (GroupNorm instead of BN, so shuffle-BN changes nothing) and
deterministic views, the maths says: DDP averages the two ranks' mean-loss gradients into the
batch-16 gradient; the gathered enqueue writes the same 16 keys, only in other slots, and the
losses see the queue as a set. So weights, momentum encoder and the queue contents (as sets of
rows) must agree, and both ranks must hold identical copies.
"""

import os
import subprocess
import sys

import pytest
import torch

pytestmark = pytest.mark.slow

CONFIG = """
_base_ = '{repo}/tests/configs/mls_resnet18_cpu-e2e_resize-32px.py'
custom_imports = dict(imports=['mls_plugin', 'rank_state_dump'], allow_failed_imports=False)
custom_hooks = [dict(type='DumpRankStateHook')]
model = dict(backbone=dict(norm_cfg=dict(type='GN', num_groups=8)))
randomness = dict(seed=0, deterministic=True)
"""


def data_options(coco_tiny_options, batch: int) -> list:
    opts = coco_tiny_options(size=None, batch=batch, queue=64, topk=4)
    return ['--cfg-options', *(f'{k}={v}' for k, v in opts.items())]


def run(repo_root, coco_tiny_options, tmp_path, name, procs, port=None):
    cfg = tmp_path / f'{name}.py'
    cfg.write_text(CONFIG.format(repo=repo_root))
    work = tmp_path / name
    env = {
        **os.environ,
        'PYTHON': sys.executable,
        'PORT': str(port),
        'PYTHONPATH': f'{repo_root / "tests/helpers"}:{os.environ.get("PYTHONPATH", "")}',
    }
    if procs == 1:
        cmd = [sys.executable, 'tools/train.py', str(cfg), '--work-dir', str(work)]
    else:
        cmd = ['bash', 'tools/dist_train.sh', str(cfg), str(procs), '--work-dir', str(work)]
    cmd += data_options(coco_tiny_options, 16 // procs)
    res = subprocess.run(cmd, cwd=repo_root, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    return [torch.load(work / f'rank{r}.pth', weights_only=True) for r in range(procs)]


def as_set(bank):
    """Rows sorted by a fixed random projection: slot order no longer matters."""
    proj = torch.randn(bank.shape[1], generator=torch.Generator().manual_seed(0))
    return bank[torch.argsort(bank.float() @ proj)]


def test_two_ranks_equal_one_process_with_the_global_batch(
    repo_root, coco_tiny_options, tmp_path, free_port
):
    (single,) = run(repo_root, coco_tiny_options, tmp_path, 'single', 1)
    rank0, rank1 = run(repo_root, coco_tiny_options, tmp_path, 'ddp', 2, free_port)
    for key in rank0:  # the ranks hold identical copies of everything
        assert torch.equal(rank0[key], rank1[key]), key
    assert int(rank0['memory.ptr']) == int(single['memory.ptr']) == 48 % 64
    for key, value in single.items():
        if key.startswith('memory.bank_'):
            assert torch.allclose(as_set(rank0[key]), as_set(value), atol=1e-4), key
        elif value.is_floating_point():
            assert torch.allclose(rank0[key], value, rtol=1e-3, atol=1e-5), key
        else:
            assert torch.equal(rank0[key], value), key


def test_two_nodes_of_one_process_train_as_one_node_of_two(
    repo_root, coco_tiny_options, tmp_path, free_port
):
    """tools/dist_train.sh as two nodes (NNODES=2, NODE_RANK 0 and 1, one process each) on this
    machine: both ranks end with the same queue and weights as one process with batch 16."""
    cfg = tmp_path / 'nodes.py'
    cfg.write_text(CONFIG.format(repo=repo_root))
    work = tmp_path / 'nodes'
    port = str(free_port)
    nodes = []
    for node_rank in range(2):
        env = {
            **os.environ,
            'PYTHON': sys.executable,
            'NNODES': '2',
            'NODE_RANK': str(node_rank),
            'MASTER_ADDR': '127.0.0.1',
            'PORT': port,
            'PYTHONPATH': f'{repo_root / "tests/helpers"}:{os.environ.get("PYTHONPATH", "")}',
        }
        cmd = ['bash', 'tools/dist_train.sh', str(cfg), '1', '--work-dir', str(work)]
        cmd += data_options(coco_tiny_options, 8)
        nodes.append(
            subprocess.Popen(
                cmd, cwd=repo_root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
        )
    for node in nodes:
        out, _ = node.communicate(timeout=600)
        assert node.returncode == 0, out.decode()[-3000:]
    rank0, rank1 = (torch.load(work / f'rank{r}.pth', weights_only=True) for r in range(2))
    (single,) = run(repo_root, coco_tiny_options, tmp_path, 'single', 1)
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    assert int(rank0['memory.ptr']) == 48 % 64
    for key, value in single.items():
        if key.startswith('memory.bank_'):
            assert torch.allclose(as_set(rank0[key]), as_set(value), atol=1e-4), key
        elif value.is_floating_point():
            assert torch.allclose(rank0[key], value, rtol=1e-3, atol=1e-5), key
