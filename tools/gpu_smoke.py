"""GPU smoke test: the project's CUDA paths on one GPU, in under 10 minutes.

Each check prints one line, ``PASS`` / ``FAIL`` / ``SKIP`` NAME (wall time): summary; every
number goes to a JSON file (``--out``, rewritten after each check, so a run cut short still
leaves what it measured), with the device, the torch / CUDA / package versions and the date.
A failing check does not stop the others: the commands run in their own processes (logs in
``WORK/logs/``) and each check's exception is caught, with the tail of its log or traceback
recorded. Exit status: 0 when no check failed, 1 when one did, 2 when no GPU is visible
(every check is then SKIP; ``--allow-no-gpu`` makes that exit 0).

Checks, in the order they run (``--checks`` picks some):

- ``mmcv_ops``: mmcv's RoIAlign (forward and backward), NMS and PSAMask (collect and
  distribute, forward and backward) on CUDA tensors against their CPU results.
- ``train_amp``: ``tools/train.py`` on the demo config with ``--amp``, 2 short epochs on 256
  generated demo scenes, BCE on from epoch 2, the pseudo-label precision and kNN hooks on:
  finite losses, both monitors logged, ``epoch_2.pth``.
- ``resume``: the same command with ``--resume`` to epoch 3 (RNG state restore, the
  pseudo-label hook's slot ids on CUDA): resumed at epoch 2, finite losses, ``epoch_3.pth``.
- ``deterministic``: two 1-epoch runs with ``randomness.deterministic=True`` (docs/reliability.md's
  exact-resume mode; ``CUBLAS_WORKSPACE_CONFIG`` is set by ``mls_plugin``), no workers: the
  two final checkpoints must be bitwise equal.
- ``nccl_one_gpu``: ``tools/dist_train.sh`` with 1 GPU and NCCL (torchrun, the DDP wrapper,
  the keys' all-gather and the shuffle-BN path through NCCL at world size 1), 2 epochs, then
  ``--resume`` to epoch 3: what a one-GPU host can check of the distributed path.
- ``two_ranks_one_gpu``: what NCCL cannot run on one GPU (it refuses two ranks on one
  device): two gloo ranks on the one GPU, CUDA tensors, one MLS step each (shuffle-BN, the
  keys' all-gather, the enqueue; BN on running statistics) and ``unshuffle_own_rows`` (the
  all-to-all of DenseCL-MLS's dense maps and of ``shuffle_group_size``): each rank's losses
  and keys those of one process on its batch, identical queues, each rank's rows back.
- ``mask_rcnn_iter``: one iteration of the Mask R-CNN R50-FPN transfer config (SyncBN, which
  mmengine reverts to BN in one process) on 2 demo scenes, random backbone weights.
- ``train_step_benchmark``: ``tools/benchmarks/train_step.py``, MLS against mmpretrain's MoCo,
  ResNet-50 at 224 px, batch 32: D = 4096 in float32 and AMP, D = 65536 under AMP with the
  float32, int8 and bfloat16 pseudo-label bank. Prints the time ratio, images/s and the peak
  memory ratio of each.
- ``no_host_sync``: MLS training steps (forward, backward, SGD step; a ResNet-18 at 64 px,
  batch 8, D = 256, the health scalars off at these steps as with ``log_health=10``) under
  ``torch.cuda.set_sync_debug_mode('error')``: any wait for the device raises. (Outside the
  model the non-finite guard reads one scalar a step, on purpose, and the logger reads the
  losses.) The CPU tests run the same function counting ``aten::_local_scalar_dense``.
- ``bank_peak_memory``: the peak memory above the queue of the no-gradient ranking product
  ``g1 Q_g^T`` at D = 65536, d_g = 2048, batch 32, for a float32, int8 and bfloat16 ``Q_g``:
  the bank's bytes and the temporary's; PASS when the int8 bank's total is below the float32
  bank's.
- ``gpu_views_step``: images/s of a full MLS ResNet-50 224 px training step (AMP, data
  preprocessor, forward, backward, SGD) at batch 32, 64 and 128 for three inputs: views made
  beforehand and already on the GPU (the bound), the CPU views (the configs' MultiView
  pipeline in 8 data-loader workers) and the GPU views (8 workers decoding into 640 px
  canvases, ``MoCoV2TwoViewPreprocessor`` on the GPU), on 64 generated 640 x 480 JPEGs.
  PASS when every step runs; the summary gives each path's images/s and the GPU path's
  ratio to the bound (issue 27's target: within 10 %).
- ``two_gpus`` (only with ``--two-gpus``, SKIP below 2 GPUs): ``tools/dist_train.sh`` with 2
  GPUs and NCCL (shuffle-BN across ranks), then ``--resume``, then a failure injected on rank
  1 (``tests/helpers/fail_on_rank_hook.py``) that must end the job within 60 s.

Usage::

    bash tools/gpu_smoke.sh                      # = .venv/bin/python tools/gpu_smoke.py
    python tools/gpu_smoke.py --checks mmcv_ops train_amp resume
    python tools/gpu_smoke.py --two-gpus --budget-s 900
    python tools/gpu_smoke.py --allow-no-gpu     # on a host without GPU: all SKIP, exit 0

Checks that would start after ``--budget-s`` seconds are SKIP, and a command's timeout never
runs past the budget by more than 30 s.
"""

import argparse
import copy
import itertools
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Callable, Optional

REPO = Path(__file__).resolve().parents[1]
DEMO_CONFIG = 'configs/mls/small_scale/mls_resnet18_1xb32-coslr-20e_demo-scenes-48px.py'
MASK_RCNN_CONFIG = 'configs/benchmarks/mmdet/mask-rcnn_r50-fpn-syncbn_ms-1x_coco.py'
TRAIN = 'tools/train.py'
GENERATE = 'tools/generate_demo_scenes.py'
TRAIN_STEP = 'tools/benchmarks/train_step.py'
DIST_TRAIN = 'tools/dist_train.sh'
FAIL_HOOK_DIR = 'tests/helpers'  # fail_on_rank_hook.py: FailOnRankHook

CHECKS = (
    'mmcv_ops',
    'train_amp',
    'resume',
    'deterministic',
    'nccl_one_gpu',
    'two_ranks_one_gpu',
    'mask_rcnn_iter',
    'train_step_benchmark',
    'no_host_sync',
    'bank_peak_memory',
    'gpu_views_step',
    'two_gpus',
)
NUM_TRAIN, NUM_VAL = 256, 64  # generated demo scenes
BATCH = 32  # the demo config's batch per GPU
PL_INTERVAL = 4  # PseudoLabelPrecisionHook: measure every 4 iterations (the config: 25)
FAIL_DEADLINE_S = 60  # a failed rank must end the 2-GPU job within this
BENCHMARK_RUNS = {
    'd4096_fp32': ['--queue', '4096'],
    'd4096_amp': ['--queue', '4096', '--amp'],
    'd65536_amp_g-float32': ['--queue', '65536', '--amp', '--g-dtype', 'float32'],
    'd65536_amp_g-int8': ['--queue', '65536', '--amp', '--g-dtype', 'int8'],
    'd65536_amp_g-bfloat16': ['--queue', '65536', '--amp', '--g-dtype', 'bfloat16'],
}
NO_GPU = 'no GPU (torch.cuda.is_available() is False)'

FAIL_CONFIG = """\
# Written by tools/gpu_smoke.py: the demo config with rank 1 failing at its 3rd iteration.
_base_ = {base!r}
custom_imports = dict(imports=['mls_plugin', 'fail_on_rank_hook'], allow_failed_imports=False)
custom_hooks = [dict(type='FailOnRankHook', rank=1, iteration=2)]
env_cfg = dict(dist_cfg=dict(backend='nccl'))
"""

MASK_RCNN_TEMPLATE = """\
# Written by tools/gpu_smoke.py: {config} for one iteration on 2 generated
# demo scenes (batch 2), random backbone weights, small input scale.
_base_ = {base!r}
classes = {classes!r}
model = dict(
    backbone=dict(init_cfg=None),
    roi_head=dict(bbox_head=dict(num_classes={n}), mask_head=dict(num_classes={n})),
)
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root={root!r},
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='images/train/'),
        metainfo=dict(classes=classes),
        indices=2,
        pipeline=[
            *_base_.train_pipeline[:2],
            dict(type='RandomChoiceResize', scales=[(256, 160)], keep_ratio=True),
            *_base_.train_pipeline[3:],
        ],
    ),
)
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=1))
"""


# --------------------------------------------------------------------------- command lines


def scenes_dir(work: Path) -> Path:
    return Path(work) / 'scenes'


def fail_config_path(work: Path) -> Path:
    return Path(work) / 'two_gpus' / 'fail_on_rank.py'


def mask_config_path(work: Path) -> Path:
    return Path(work) / 'mask_rcnn' / 'mask_rcnn_demo_scenes.py'


@cache
def demo_hook_indices() -> dict:
    """Position of each hook type in the demo config's ``custom_hooks``."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(REPO / DEMO_CONFIG), import_custom_modules=False)
    indices: dict = {}
    for i, hook in enumerate(cfg.get('custom_hooks', [])):
        indices.setdefault(hook['type'], i)
    return indices


def demo_options(
    work: Path, max_epochs: int, bce_from_epoch: int = 1, deterministic: bool = False
) -> dict:
    """``--cfg-options`` for the demo config on the generated scenes, checkpoint every epoch."""
    root = f'{scenes_dir(work)}/'
    hooks = demo_hook_indices()
    opts: dict = {'train_dataloader.dataset.data_root': root}
    if 'KNNMultiLabelHook' in hooks:
        i = hooks['KNNMultiLabelHook']
        opts[f'custom_hooks.{i}.bank_dataloader.dataset.data_root'] = root
        opts[f'custom_hooks.{i}.query_dataloader.dataset.data_root'] = root
    if 'BCEWarmupHook' in hooks:  # InfoNCE alone first, so that both phases run on the GPU
        i = hooks['BCEWarmupHook']
        opts[f'custom_hooks.{i}.begin'] = bce_from_epoch
        opts[f'custom_hooks.{i}.end'] = bce_from_epoch
    if 'PseudoLabelPrecisionHook' in hooks:
        opts[f'custom_hooks.{hooks["PseudoLabelPrecisionHook"]}.interval'] = PL_INTERVAL
    opts.update(
        {
            'train_cfg.max_epochs': max_epochs,
            'default_hooks.checkpoint.interval': 1,
            'default_hooks.logger.interval': 1,
        }
    )
    if deterministic:
        opts.update(
            {
                'randomness.deterministic': True,
                'train_dataloader.num_workers': 0,
                'train_dataloader.persistent_workers': False,
            }
        )
    return opts


def cfg_options(opts: dict) -> list:
    return ['--cfg-options', *(f'{k}={v}' for k, v in opts.items())]


def train_command(python: str, work: Path, sub: str, opts: dict, *extra: str) -> list:
    """``tools/train.py`` on the demo config, work dir WORK/SUB."""
    cmd = [python, TRAIN, DEMO_CONFIG, '--work-dir', str(Path(work) / sub), *extra]
    return cmd + cfg_options(opts)


def benchmark_commands(
    work: Path,
    python: str = sys.executable,
    iters: int = 10,
    warmup: int = 3,
    repeats: int = 2,
    memory_repeats: int = 1,
) -> dict:
    """name -> ``train_step.py`` command (ResNet-50, 224 px, batch 32, on cuda)."""
    common = [
        '--depth', '50', '--img', '224', '--batch', '32', '--device', 'cuda',
        '--iters', str(iters), '--warmup', str(warmup), '--repeats', str(repeats),
        '--memory-repeats', str(memory_repeats),
    ]  # fmt: skip
    out = Path(work) / 'benchmark'
    return {
        name: [python, TRAIN_STEP, *common, *run, '--out', str(out / f'{name}.json')]
        for name, run in BENCHMARK_RUNS.items()
    }


def planned_commands(work: Path, python: str = sys.executable, **benchmark) -> dict:
    """Every command line the checks run, by check (``scenes``: the shared data step).

    Relative paths are relative to the repository root, where the commands run;
    ``--cfg-options`` always comes last. ``two_gpus``'s last command uses the
    config that :func:`write_fail_config` writes, ``mask_rcnn_iter``'s the one
    of :func:`write_mask_rcnn_config` (both need the scenes).
    """
    work = Path(work)

    def train(sub, opts, *extra):
        return train_command(python, work, sub, opts, *extra)

    def dist(sub, opts, *extra, config=DEMO_CONFIG, gpus=2):
        folder = 'two_gpus' if gpus == 2 else 'nccl_one_gpu'
        cmd = ['bash', DIST_TRAIN, config, str(gpus), '--work-dir', str(work / folder / sub)]
        return cmd + list(extra) + cfg_options(opts)

    nccl = {'env_cfg.dist_cfg.backend': 'nccl'}
    fail_opts = {
        'train_dataloader.dataset.data_root': f'{scenes_dir(work)}/',
        'train_cfg.max_epochs': 1,
        'default_hooks.logger.interval': 1,
    }
    return {
        'scenes': [
            [python, GENERATE, '--out-dir', str(scenes_dir(work))]
            + ['--num-train', str(NUM_TRAIN), '--num-val', str(NUM_VAL)]
        ],
        'train_amp': [train('train', demo_options(work, 2), '--amp')],
        'resume': [train('train', demo_options(work, 3), '--amp', '--resume')],
        'deterministic': [
            train(f'deterministic_{run}', demo_options(work, 1, 0, deterministic=True))
            for run in 'ab'
        ],
        'mask_rcnn_iter': [
            [python, TRAIN, str(mask_config_path(work)), '--work-dir', str(work / 'mask_rcnn')]
            + ['--no-validate']
        ],
        'nccl_one_gpu': [
            dist('train', {**demo_options(work, 2), **nccl}, gpus=1),
            dist('train', {**demo_options(work, 3), **nccl}, '--resume', gpus=1),
        ],
        'train_step_benchmark': list(benchmark_commands(work, python, **benchmark).values()),
        'two_gpus': [
            dist('train', {**demo_options(work, 2), **nccl}),
            dist('train', {**demo_options(work, 3), **nccl}, '--resume'),
            dist('fail', fail_opts, config=str(fail_config_path(work))),
        ],
    }


def write_fail_config(work: Path) -> Path:
    path = fail_config_path(work)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FAIL_CONFIG.format(base=str(REPO / DEMO_CONFIG)))
    return path


def write_mask_rcnn_config(work: Path) -> Path:
    """The Mask R-CNN config on the generated scenes (their categories as classes)."""
    root = scenes_dir(work)
    ann = json.loads((root / 'annotations' / 'instances_train.json').read_text())
    classes = tuple(c['name'] for c in sorted(ann['categories'], key=lambda c: c['id']))
    path = mask_config_path(work)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = MASK_RCNN_TEMPLATE.format(
        config=MASK_RCNN_CONFIG,
        base=str(REPO / MASK_RCNN_CONFIG),
        classes=classes,
        n=len(classes),
        root=f'{root}/',
    )
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- mmcv ops


def mmcv_ops_numbers(device: str = 'cuda') -> dict:
    """mmcv's RoIAlign, NMS and PSAMask on ``device`` against CPU: differences and failures.

    Each op is tried on its own: one that raises (e.g. mmcv built without CUDA ops) is a
    failure with its message, and the others are still compared.
    """
    import mmcv.ops
    import torch
    from mmcv.ops import PSAMask, nms, roi_align

    numbers: dict = {'mmcv_compiling_cuda': mmcv.ops.get_compiling_cuda_version()}
    failures: list = []
    gen = torch.Generator().manual_seed(0)

    def on_both(fn, *inputs):
        cpu = fn(*inputs)
        dev = fn(*(t.to(device) for t in inputs))
        return cpu, [t.cpu() for t in dev]

    def compare(name, cpu, dev, tol):
        diff = max((a.float() - b.float()).abs().max().item() for a, b in zip(cpu, dev))
        numbers[f'{name}_max_abs_diff'] = diff
        if not diff <= tol:
            failures.append(f'{name}: max |cpu - {device}| = {diff:.3g} > {tol:g}')

    def roi_align_case():
        # As in Mask R-CNN's RoI heads (aligned, 2 samples per bin), with the backward.
        feat = torch.randn(2, 8, 32, 32, generator=gen)
        rois = torch.tensor(
            [
                [0, 1.5, 2.0, 40.3, 50.1],
                [1, 0.0, 0.0, 63.0, 63.0],
                [0, 20.2, 10.5, 25.7, 60.0],
                [1, 8.0, 8.0, 17.5, 40.0],
            ]
        )
        upstream = torch.randn(len(rois), 8, 7, 7, generator=gen)

        def roi(x, boxes, grad):
            x = x.clone().requires_grad_(True)
            y = roi_align(x, boxes, (7, 7), 0.5, 2, 'avg', True)
            y.backward(grad)
            return [y.detach(), x.grad]

        cpu, dev = on_both(roi, feat, rois, upstream)
        compare('roi_align_forward', cpu[:1], dev[:1], 1e-5)
        compare('roi_align_backward', cpu[1:], dev[1:], 1e-4)

    def nms_case():
        # 300 random boxes with distinct scores: the same boxes must survive, in order.
        xy = torch.rand(300, 2, generator=gen) * 120
        wh = 5 + torch.rand(300, 2, generator=gen) * 60
        boxes = torch.cat([xy, xy + wh], dim=1)
        scores = torch.randperm(300, generator=gen).float() / 300
        cpu, dev = on_both(lambda b, s: list(nms(b, s, 0.5)), boxes, scores)
        numbers['nms_kept'] = [len(cpu[1]), len(dev[1])]
        if not torch.equal(cpu[1], dev[1]):
            failures.append(f'nms: kept {len(cpu[1])} boxes on cpu, {len(dev[1])} on {device}')
        else:
            compare('nms_dets', cpu[:1], dev[:1], 1e-6)

    def psamask_case(kind):
        # PSANet's point-wise spatial attention mask, with the backward.
        x = torch.randn(2, 25, 8, 8, generator=gen)
        grad = torch.randn(2, 64, 8, 8, generator=gen)

        def psa(x, grad):
            x = x.clone().requires_grad_(True)
            y = PSAMask(kind, (5, 5))(x)
            y.backward(grad)
            return [y.detach(), x.grad]

        cpu, dev = on_both(psa, x, grad)
        compare(f'psamask_{kind}_forward', cpu[:1], dev[:1], 1e-6)
        compare(f'psamask_{kind}_backward', cpu[1:], dev[1:], 1e-6)

    cases = {
        'roi_align': roi_align_case,
        'nms': nms_case,
        'psamask_collect': lambda: psamask_case('collect'),
        'psamask_distribute': lambda: psamask_case('distribute'),
    }
    for name, case in cases.items():
        try:
            case()
        except Exception as exc:
            failures.append(f'{name}: {type(exc).__name__}: {str(exc).strip()[:300]}')
    if failures and numbers['mmcv_compiling_cuda'] == 'not available' and device != 'cpu':
        failures.append('mmcv was built without CUDA ops (get_compiling_cuda_version)')
    numbers['failures'] = failures
    return numbers


# --------------------------------------------------------------------------- running


class CheckFailed(Exception):
    """A check's expectation failed; ``tail`` is the end of the log that shows why, and
    ``numbers`` / ``details`` what the check measured before it failed."""

    def __init__(
        self,
        message: str,
        tail: Optional[str] = None,
        numbers: Optional[dict] = None,
        details: Optional[list] = None,
    ) -> None:
        super().__init__(message)
        self.tail = tail
        self.numbers = numbers
        self.details = details or []


class CheckSkipped(Exception):
    pass


@dataclass
class Run:
    cmd: list
    log: Path
    rc: Optional[int]
    wall_s: float
    timed_out: bool
    text: str
    watch_at: Optional[float]  # time.monotonic() when the watched string first appeared
    end_at: float

    def tail(self, lines: int = 40) -> str:
        return '\n'.join(self.text.splitlines()[-lines:])


def small_mls(device: str, **model):
    """A ResNet-18 (base 16) MLS at 64 px with a 256-slot queue on ``device``, seeded."""
    import torch
    from mmpretrain.registry import MODELS

    import mls_plugin  # noqa: F401

    torch.manual_seed(0)
    return MODELS.build(
        dict(
            dict(
                type='MLS',
                log_health=1000,  # not due at these steps, as between the logger's iterations
                backbone=dict(type='ResNet', depth=18, base_channels=16),
                neck=dict(
                    type='MoCoV2Neck',
                    in_channels=128,
                    hid_channels=128,
                    out_channels=64,
                    with_avg_pool=False,
                ),
                head=dict(type='MLSHead', topk=4),
                memory=dict(type='QueueMemory', length=256, banks=dict(g=128, z=64)),
            ),
            **model,
        )
    ).to(device)


def _two_rank_views(rank: int, device: str) -> list:
    import torch

    gen = torch.Generator().manual_seed(10 + rank)
    return [torch.randn(8, 3, 64, 64, generator=gen).to(device) for _ in '12']


def _two_rank_worker(
    rank: int, device: str, port: int, out: str, rank_setup: Optional[Callable[[], None]]
) -> None:
    """One rank of :func:`two_rank_numbers`."""
    import torch
    import torch.distributed as dist

    if rank_setup is not None:
        rank_setup()
    from mls_plugin.models.utils import shuffle_rows, unshuffle_own_rows

    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=2)
    model = small_mls(device).eval()  # BN on running statistics: a key ignores the shuffle
    losses = model.loss(_two_rank_views(rank, device), [])
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    ids = torch.arange(8 * rank, 8 * rank + 8, device=device)
    shuffled, idx_unshuffle = shuffle_rows(ids)
    own = unshuffle_own_rows(idx_unshuffle, ids=shuffled)['ids']
    torch.save(
        dict(
            losses={k: float(v) for k, v in losses.items() if k.startswith('loss')},
            banks={n: model.memory.bank(n).float().cpu() for n in ('g', 'z')},
            ptr=int(model.memory.ptr),
            own_rows_back=bool(torch.equal(own.long().cpu(), ids.cpu())),
            moved=int((shuffled.cpu() // 8 != rank).sum()),
        ),
        f'{out}/rank{rank}.pt',
    )
    dist.destroy_process_group()


def two_rank_numbers(device: str = 'cuda', rank_setup: Optional[Callable[[], None]] = None) -> dict:
    """MLS's collectives at world size 2 on one device: two gloo ranks on ``device``.

    NCCL refuses two ranks on one GPU; gloo takes CUDA tensors through the host (mmengine's
    collectives and ``unshuffle_own_rows`` move them to the backend's device). Each rank runs
    one MLS step (shuffle-BN, the keys' all-gather, the enqueue) with BN on running
    statistics, so its losses must be one process's on its batch and both ranks must hold the
    same queue with rank r's keys at slots 8 r .. 8 r + 7; and ``unshuffle_own_rows`` (the
    all-to-all of DenseCL-MLS's dense maps and of a node-local shuffle) must return each
    rank's rows to it.

    The ranks are spawned, not forked: a rank forked after this process ran OpenMP work hangs
    in its first parallel op, and one forked after CUDA started cannot use the GPU. A spawned
    rank imports this file by its module name (``__main__`` as a script, else ``gpu_smoke``
    from ``tools/``, put on the path it inherits) and first calls ``rank_setup``, a picklable
    callable (a test breaks the unshuffle with it).
    """
    import tempfile

    import torch
    import torch.multiprocessing as mp

    tools = str(Path(__file__).resolve().parent)
    on_path = tools in sys.path
    if not on_path:
        sys.path.append(tools)
    try:
        with tempfile.TemporaryDirectory() as out:
            mp.start_processes(
                _two_rank_worker,
                args=(device, free_port(), out, rank_setup),
                nprocs=2,
                join=True,
                start_method='spawn',
            )
            ranks = [torch.load(f'{out}/rank{r}.pt', weights_only=True) for r in range(2)]
    finally:
        if not on_path:
            sys.path.remove(tools)
    numbers: dict = dict(device=device, ranks=2, backend='gloo', loss_max_rel_diff=0.0)
    key_diff = 0.0
    for r, rank in enumerate(ranks):
        alone = small_mls(device).eval()
        with torch.no_grad():
            losses = alone.loss(_two_rank_views(r, device), [])
        for k, v in rank['losses'].items():
            diff = abs(v - float(losses[k])) / max(abs(float(losses[k])), 1e-12)
            numbers['loss_max_rel_diff'] = max(numbers['loss_max_rel_diff'], diff)
        for n in ('g', 'z'):
            mine = rank['banks'][n][8 * r : 8 * r + 8]
            key_diff = max(
                key_diff, float((mine - alone.memory.bank(n)[:8].float().cpu()).abs().max())
            )
    numbers.update(
        keys_max_abs_diff=key_diff,
        queues_identical=all(
            torch.equal(ranks[0]['banks'][n], ranks[1]['banks'][n]) for n in ('g', 'z')
        ),
        ptr=[rank['ptr'] for rank in ranks],
        own_rows_back=[rank['own_rows_back'] for rank in ranks],
        rows_moved=[rank['moved'] for rank in ranks],
    )
    numbers['ok'] = bool(
        numbers['loss_max_rel_diff'] < 1e-4
        and key_diff < 1e-4
        and numbers['queues_identical']
        and numbers['ptr'] == [16, 16]
        and all(numbers['own_rows_back'])
    )
    return numbers


def host_sync_numbers(device: str = 'cuda', steps: int = 3) -> dict:
    """MLS training steps on ``device`` that must not wait for it.

    On CUDA the steps run under ``torch.cuda.set_sync_debug_mode('error')``; elsewhere every
    read of a tensor's value by the host (``aten::_local_scalar_dense``) is counted, which is
    what a sync is on a GPU. Two warm-up steps run first (lazy initialisation may sync once).
    """
    import torch
    from mmengine.logging import MessageHub
    from torch.utils._python_dispatch import TorchDispatchMode

    import mls_plugin  # noqa: F401

    model = small_mls(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, foreach=True)
    gen = torch.Generator().manual_seed(0)
    batches = [[torch.randn(8, 3, 64, 64, generator=gen).to(device) for _ in '12'] for _ in '12345']

    def step(views):
        losses = model.loss(views, [])
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    MessageHub.get_current_instance().update_info('iter', 0)
    for views in batches[:2]:
        step(views)

    class CountReads(TorchDispatchMode):
        reads = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func is torch.ops.aten._local_scalar_dense.default:
                CountReads.reads += 1
            return func(*args, **(kwargs or {}))

    numbers: dict = dict(device=device, steps=steps)
    if device.startswith('cuda'):
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode('error')
        try:
            for views in batches[2 : 2 + steps]:
                step(views)
            numbers['sync_error'] = None
        except RuntimeError as exc:
            numbers['sync_error'] = str(exc).splitlines()[0]
        finally:
            torch.cuda.set_sync_debug_mode('default')
    else:
        with CountReads():
            for views in batches[2 : 2 + steps]:
                step(views)
        numbers['host_reads'] = CountReads.reads
    return numbers


def bank_memory_numbers(device: str = 'cuda') -> dict:
    """Peak memory of ``g1 Q_g^T`` (no gradient) at D = 65536, d_g = 2048, per bank dtype."""
    import torch

    from mls_plugin.models import QueueMemory

    numbers: dict = {}
    for dtype in ('float32', 'int8', 'bfloat16'):
        with torch.device(device):
            mem = QueueMemory(length=65536, banks=dict(g=2048), dtypes=dict(g=dtype))
            query = torch.randn(32, 2048)
        torch.cuda.synchronize()
        bank = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        with torch.no_grad():
            mem.similarity('g', query)
        torch.cuda.synchronize()
        stored = sum(b.numel() * b.element_size() for b in mem.buffers())
        numbers[dtype] = dict(
            bank_mib=round(stored / 2**20, 1),
            temporary_mib=round((torch.cuda.max_memory_allocated() - bank) / 2**20, 1),
        )
        numbers[dtype]['total_mib'] = round(
            numbers[dtype]['bank_mib'] + numbers[dtype]['temporary_mib'], 1
        )
        del mem, query
        torch.cuda.empty_cache()
    return numbers


def write_sample_jpegs(folder: Path, num: int = 64, size: tuple = (480, 640)) -> Path:
    """``num`` smooth random colour photos-like JPEGs of ``size`` (H, W) in ``folder``."""
    import cv2
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(num):
        path = folder / f'{i:03d}.jpg'
        if path.is_file():
            continue
        coarse = rng.integers(0, 256, (size[0] // 40, size[1] // 40, 3)).astype(np.uint8)
        img = cv2.resize(coarse, size[::-1], interpolation=cv2.INTER_CUBIC)
        img = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return folder


def gpu_views_numbers(
    device: str = 'cuda',
    image_dir: Optional[str] = None,
    batches: tuple = (32, 64, 128),
    workers: int = 8,
    steps: int = 8,
    warmup: int = 3,
    depth: int = 50,
    size: int = 224,
    canvas: int = 640,
) -> dict:
    """Images/s of full MLS training steps fed by pre-made views, the CPU views, the GPU views.

    The paper's model (``configs/mls/mls_resnet50_8xb32-coslr-800e_coco.py``, ``depth`` and
    the views' ``size`` overridable for a CPU dry run) trained by ``model.train_step`` with
    SGD (under AMP on CUDA). ``premade``: two normalised views per image already on the
    device, the data preprocessor's normalisation only; ``cpu_views``: the config's pipeline
    (decode, MultiView of the MoCo-v2 views) in ``workers`` data-loader workers;
    ``gpu_views``: decode + ``ResizeToCanvas(canvas)`` in the workers and
    ``MoCoV2TwoViewPreprocessor`` on the device. Each measurement: ``warmup`` steps, then
    ``steps`` timed.
    """
    import torch
    from mmengine.config import Config
    from mmengine.dataset import default_collate
    from mmengine.optim import AmpOptimWrapper, OptimWrapper
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS, MODELS

    import mls_plugin  # noqa: F401

    init_default_scope('mmpretrain')
    cfg = Config.fromfile(str(REPO / 'configs/mls/mls_resnet50_8xb32-coslr-800e_coco.py'))
    gpu_cfg = Config.fromfile(
        str(REPO / 'configs/mls/mls_resnet50_8xb32-coslr-800e_coco-gpu-views.py')
    )
    cpu_pipeline = copy.deepcopy(cfg.train_dataloader.dataset.pipeline)
    for view in cpu_pipeline[1]['transforms'][0]:
        if view['type'] == 'RandomResizedCrop':
            view['scale'] = size
    gpu_pipeline = copy.deepcopy(gpu_cfg.train_dataloader.dataset.pipeline)
    gpu_pipeline[1]['size'] = canvas
    if image_dir is None:
        image_dir = str(write_sample_jpegs(Path(REPO / 'work_dirs/gpu_smoke/jpegs')))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.depth = depth
    if depth < 50:  # basic blocks: 512 channels at the end
        model_cfg.neck.in_channels = model_cfg.memory.banks.g = 512
    model_cfg.log_health = False
    model_cfg.data_preprocessor = cfg.data_preprocessor
    torch.manual_seed(0)
    model = MODELS.build(model_cfg).to(device)
    model.train()
    plain = model.data_preprocessor
    views = MODELS.build(dict(gpu_cfg.data_preprocessor, size=size, seed=0)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9, weight_decay=1e-4)
    wrapper = AmpOptimWrapper(optimizer=optimizer) if device == 'cuda' else OptimWrapper(optimizer)
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)

    def loader(pipeline, batch):
        dataset = DATASETS.build(
            dict(type='SceneImageDataset', data_root=image_dir, pipeline=pipeline)
        )
        sampler = torch.utils.data.RandomSampler(
            dataset, replacement=True, num_samples=batch * (steps + warmup + 1)
        )
        return torch.utils.data.DataLoader(
            dataset,
            batch_size=batch,
            sampler=sampler,
            num_workers=workers,
            collate_fn=default_collate,
            pin_memory=device == 'cuda',
            drop_last=True,
        )

    def images_per_s(batches_iter, batch):
        for _ in range(warmup):
            model.train_step(next(batches_iter), wrapper)
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            model.train_step(next(batches_iter), wrapper)
        sync()
        return round(batch * steps / (time.perf_counter() - start), 1)

    numbers: dict = dict(depth=depth, size=size, canvas=canvas, workers=workers, steps=steps)
    for batch in batches:
        gen = torch.Generator(device=device).manual_seed(0)
        premade = dict(
            inputs=[torch.randn(batch, 3, size, size, device=device, generator=gen) * 50 + 110] * 2,
            data_samples=None,
        )
        row: dict = {}
        model.data_preprocessor = plain
        row['premade'] = images_per_s(itertools.repeat(premade), batch)
        row['cpu_views'] = images_per_s(iter(loader(cpu_pipeline, batch)), batch)
        model.data_preprocessor = views
        row['gpu_views'] = images_per_s(iter(loader(gpu_pipeline, batch)), batch)
        row['gpu_over_premade'] = round(row['gpu_views'] / row['premade'], 3)
        numbers[f'batch{batch}'] = row
        model.data_preprocessor = plain
    return numbers


def last_error_line(text: str) -> str:
    """The last ``SomethingError: message`` line of a log, if any."""
    for line in reversed(text.splitlines()):
        if re.match(r'^[\w.]+(Error|Exception|Exit)\b.*', line.strip()):
            return line.strip()[:300]
    return ''


def require_ok(run: Run, what: str) -> None:
    if run.timed_out:
        raise CheckFailed(f'{what} timed out after {run.wall_s:.0f} s (log {run.log})', run.tail())
    if run.rc != 0:
        error = last_error_line(run.text)
        raise CheckFailed(
            f'{what} exited {run.rc}{": " + error if error else ""} (log {run.log})', run.tail()
        )


def scalar_rows(work_dir: Path, exclude: frozenset = frozenset()) -> list:
    """mmengine's ``scalars.json`` rows of every run in ``work_dir`` (but ``exclude``)."""
    rows = []
    for path in sorted(Path(work_dir).glob('*/vis_data/scalars.json')):
        if path.parents[1].name not in exclude:
            rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def run_dirs(work_dir: Path) -> frozenset:
    return frozenset(p.parent.name for p in Path(work_dir).glob('*/vis_data'))


def loss_summary(rows: list, expected_iters: Optional[list] = None) -> dict:
    """Check that every logged loss is finite (and the iterations are the expected ones)."""
    losses = [r for r in rows if 'loss' in r]
    if not losses:
        raise CheckFailed('no loss was logged')
    bad = [
        f'iter {r.get("iter")}: {k}={v}'
        for r in losses
        for k, v in r.items()
        if k.startswith('loss') and not (isinstance(v, (int, float)) and math.isfinite(v))
    ]
    if bad:
        raise CheckFailed(f'non-finite losses: {", ".join(bad[:5])}')
    iters = [r.get('iter') for r in losses]
    if expected_iters is not None and iters != expected_iters:
        raise CheckFailed(f'logged iterations {iters}, expected {expected_iters}')
    out = {
        'iterations': len(losses),
        'first_loss': losses[0]['loss'],
        'last_loss': losses[-1]['loss'],
        'last_losses': {k: v for k, v in losses[-1].items() if k.startswith('loss')},
    }
    times = [r['time'] for r in losses if 'time' in r]
    if times:
        out['median_iter_s'] = statistics.median(times)
    memory = [r['memory'] for r in losses if 'memory' in r]
    if memory:
        out['max_memory_mb'] = max(memory)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Smoke:
    """Runs the checks on a GPU host; ``result`` is what goes to the JSON."""

    def __init__(self, args: argparse.Namespace, result: dict) -> None:
        self.args = args
        self.result = result
        self.work = Path(args.work_dir).resolve()
        self.python = args.python
        self.start = time.monotonic()
        self.deadline = self.start + args.budget_s
        self._plan: Optional[dict] = None
        self._plan_error: Optional[Exception] = None
        self.env = dict(os.environ)
        self.env['PYTHONPATH'] = os.pathsep.join(
            p for p in (str(REPO), self.env.get('PYTHONPATH', '')) if p
        )
        self.env['PYTHONUNBUFFERED'] = '1'
        self._scenes: Optional[Exception] = None
        self._scenes_done = False
        self._runs = 0
        shutil.rmtree(self.work / 'logs', ignore_errors=True)  # this invocation's logs only

    # -- helpers

    @property
    def plan(self) -> dict:
        """The command lines (built on first use: a config that fails to load fails the
        checks that need it, not the script)."""
        if self._plan_error is not None:
            raise CheckFailed(f'could not build the commands: {self._plan_error}')
        if self._plan is None:
            try:
                self._plan = planned_commands(
                    self.work,
                    self.python,
                    iters=self.args.bench_iters,
                    warmup=self.args.bench_warmup,
                    repeats=self.args.bench_repeats,
                    memory_repeats=self.args.bench_memory_repeats,
                )
            except Exception as exc:
                self._plan_error = exc
                raise
        return self._plan

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def run(
        self,
        cmd: list,
        name: str,
        timeout: float,
        env: Optional[dict] = None,
        watch: Optional[str] = None,
    ) -> Run:
        """Run ``cmd`` in the repository root, its output to WORK/logs/NAME.log."""
        timeout = min(timeout, max(self.remaining(), 0) + 30)
        logs = self.work / 'logs'
        logs.mkdir(parents=True, exist_ok=True)
        self._runs += 1
        log = logs / f'{self._runs:02d}_{name}.log'
        start = time.monotonic()
        chunks: list = []
        watch_at = None
        timed_out = threading.Event()
        with open(log, 'w') as f:
            f.write('$ ' + ' '.join(map(str, cmd)) + '\n')
            proc = subprocess.Popen(
                [str(c) for c in cmd],
                cwd=REPO,
                env=env or self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors='replace',
                start_new_session=True,  # one process group: a timeout kills torchrun's ranks too
            )

            def kill() -> None:
                timed_out.set()
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

            timer = threading.Timer(timeout, kill)
            timer.start()
            try:
                for line in proc.stdout:
                    f.write(line)
                    chunks.append(line)
                    if watch and watch_at is None and watch in line:
                        watch_at = time.monotonic()
                rc = proc.wait()
            finally:
                timer.cancel()
        end = time.monotonic()
        return Run(cmd, log, rc, end - start, timed_out.is_set(), ''.join(chunks), watch_at, end)

    def fresh(self, sub: str) -> Path:
        path = self.work / sub
        if path.exists():
            shutil.rmtree(path)
        return path

    def ensure_scenes(self) -> None:
        """Generate the demo scenes once (the generator skips up-to-date data)."""
        if self._scenes is not None:
            raise CheckFailed(f'no demo scenes: {self._scenes}')
        if self._scenes_done:
            return
        run = self.run(self.plan['scenes'][0], 'generate_demo_scenes', 300)
        try:
            require_ok(run, GENERATE)
        except CheckFailed as exc:
            self._scenes = exc
            raise
        self._scenes_done = True
        self.result['scenes'] = dict(path=str(scenes_dir(self.work)), wall_s=run.wall_s)

    # -- checks: each returns (summary, numbers[, detail lines]) or raises

    def check_mmcv_ops(self):
        cmd = [self.python, str(Path(__file__).resolve()), '--internal', 'mmcv_ops']
        run = self.run(cmd, 'mmcv_ops', 180)
        lines = [ln for ln in run.text.splitlines() if ln.startswith('{')]
        if not lines:
            require_ok(run, 'mmcv ops')
            raise CheckFailed(f'mmcv ops printed no result (log {run.log})', run.tail())
        numbers = json.loads(lines[-1])
        if numbers['failures']:
            raise CheckFailed('; '.join(numbers['failures']), run.tail(), numbers=numbers)
        require_ok(run, 'mmcv ops')
        worst = max(v for k, v in numbers.items() if k.endswith('_max_abs_diff'))
        summary = (
            f'RoIAlign, NMS ({numbers["nms_kept"][1]} kept), PSAMask match CPU '
            f'(max abs diff {worst:.2g})'
        )
        return summary, numbers

    def _train_run(self, cmd, name, work_dir, expected_iters, timeout):
        before = run_dirs(work_dir)
        run = self.run(cmd, name, timeout)
        require_ok(run, f'{TRAIN} ({name})')
        rows = scalar_rows(work_dir, exclude=before)
        numbers = loss_summary(rows, expected_iters)
        numbers['pl_precision'] = [r['pl_precision'] for r in rows if 'pl_precision' in r]
        numbers['knn_mAP'] = [r['knn_mAP'] for r in rows if 'knn_mAP' in r]
        numbers['wall_s'] = run.wall_s
        return run, numbers

    def check_train_amp(self):
        self.ensure_scenes()
        work = self.fresh('train')
        per_epoch = NUM_TRAIN // BATCH
        run, numbers = self._train_run(
            self.plan['train_amp'][0], 'train_amp', work, list(range(1, 2 * per_epoch + 1)), 480
        )
        dumped = work / Path(DEMO_CONFIG).name
        text = dumped.read_text() if dumped.is_file() else run.text
        if 'AmpOptimWrapper' not in text:
            raise CheckFailed(f'--amp did not reach optim_wrapper.type ({dumped})')
        if not numbers['pl_precision']:
            raise CheckFailed('PseudoLabelPrecisionHook logged nothing', run.tail())
        if not numbers['knn_mAP']:
            raise CheckFailed('KNNMultiLabelHook logged nothing', run.tail())
        if not (work / 'epoch_2.pth').is_file():
            raise CheckFailed(f'no {work / "epoch_2.pth"}', run.tail())
        # The BCE is switched on for epoch 2 (BCEWarmupHook): the full MLS loss under AMP.
        rows = [r for r in scalar_rows(work) if 'loss_ml' in r and r.get('iter', 0) > per_epoch]
        numbers['loss_ml_epoch_2'] = [r['loss_ml'] for r in rows]
        if 'BCEWarmupHook' in demo_hook_indices() and not all(r['loss_ml'] > 0 for r in rows):
            raise CheckFailed(f'loss_ml not > 0 in epoch 2: {numbers["loss_ml_epoch_2"]}')
        summary = (
            f'{numbers["iterations"]} AMP iterations, loss {numbers["first_loss"]:.3f} -> '
            f'{numbers["last_loss"]:.3f}, {numbers.get("median_iter_s", float("nan")):.3f} s/iter,'
            f' pl_precision x{len(numbers["pl_precision"])}, kNN mAP '
            f'{", ".join(f"{v:.1f}" for v in numbers["knn_mAP"])}, epoch_2.pth'
        )
        return summary, numbers

    def check_resume(self):
        work = self.work / 'train'
        if not (work / 'epoch_2.pth').is_file():
            raise CheckSkipped(f'no {work / "epoch_2.pth"} (train_amp did not leave it)')
        per_epoch = NUM_TRAIN // BATCH
        expected = list(range(2 * per_epoch + 1, 3 * per_epoch + 1))
        run, numbers = self._train_run(self.plan['resume'][0], 'resume', work, expected, 420)
        match = re.search(r'resumed epoch: (\d+), iter: (\d+)', run.text)
        if not match:
            raise CheckFailed('the log does not say "resumed epoch: ..."', run.tail())
        numbers['resumed_epoch'], numbers['resumed_iter'] = map(int, match.groups())
        if numbers['resumed_epoch'] != 2:
            raise CheckFailed(f'resumed at epoch {numbers["resumed_epoch"]}, expected 2')
        if not (work / 'epoch_3.pth').is_file():
            raise CheckFailed(f'no {work / "epoch_3.pth"}', run.tail())
        if not numbers['pl_precision']:
            raise CheckFailed('PseudoLabelPrecisionHook logged nothing after the resume')
        summary = (
            f'resumed at epoch 2 (iter {numbers["resumed_iter"]}), iterations '
            f'{expected[0]}-{expected[-1]} finite (last loss {numbers["last_loss"]:.3f}), '
            'epoch_3.pth'
        )
        return summary, numbers

    def check_deterministic(self):
        import torch

        self.ensure_scenes()
        per_epoch = NUM_TRAIN // BATCH
        numbers: dict = {}
        states, losses = [], []
        for run_name, cmd in zip('ab', self.plan['deterministic']):
            work = self.fresh(f'deterministic_{run_name}')
            _, nums = self._train_run(
                cmd, f'deterministic_{run_name}', work, list(range(1, per_epoch + 1)), 300
            )
            numbers[run_name] = nums
            rows = scalar_rows(work)
            losses.append([r['loss'] for r in rows if 'loss' in r])
            ckpt = torch.load(work / 'epoch_1.pth', map_location='cpu', weights_only=False)
            states.append(ckpt['state_dict'])
        a, b = states
        if a.keys() != b.keys():
            raise CheckFailed(f'the checkpoints hold different keys: {sorted(a.keys() ^ b.keys())}')
        differ = [k for k in a if not torch.equal(a[k], b[k])]
        numbers['tensors'] = len(a)
        numbers['differing_tensors'] = differ
        numbers['losses_equal'] = losses[0] == losses[1]
        if differ:
            diffs = [
                (a[k].double() - b[k].double()).abs().max().item()
                for k in differ
                if a[k].is_floating_point()
            ]
            worst = numbers['max_abs_diff'] = max(diffs, default=float('nan'))
            raise CheckFailed(
                f'{len(differ)} of {len(a)} tensors differ (max abs diff {worst:.3g}), e.g. '
                f'{", ".join(differ[:3])}; losses equal: {numbers["losses_equal"]}',
                numbers=numbers,
            )
        return (
            f'two deterministic runs: all {len(a)} tensors of epoch_1.pth bitwise equal, '
            f'losses equal: {numbers["losses_equal"]}',
            numbers,
        )

    def check_mask_rcnn_iter(self):
        self.ensure_scenes()
        work = self.fresh('mask_rcnn')
        write_mask_rcnn_config(self.work)
        run = self.run(self.plan['mask_rcnn_iter'][0], 'mask_rcnn_iter', 420)
        require_ok(run, f'{TRAIN} (Mask R-CNN)')
        numbers = loss_summary(scalar_rows(work), [1])
        numbers['syncbn_reverted'] = 'SyncBatchNorm (SyncBN) layers' in run.text
        numbers['wall_s'] = run.wall_s
        parts = ', '.join(f'{k} {v:.3f}' for k, v in numbers['last_losses'].items())
        return f'1 iteration (SyncBN -> BN: {numbers["syncbn_reverted"]}): {parts}', numbers

    def check_train_step_benchmark(self):
        numbers, details, failed = {}, [], []
        for name, cmd in zip(BENCHMARK_RUNS, self.plan['train_step_benchmark']):
            if self.remaining() <= 0:
                failed.append(f'{name}: not run (time budget spent)')
                continue
            out = Path(cmd[-1])
            out.parent.mkdir(parents=True, exist_ok=True)
            if out.exists():
                out.unlink()
            run = self.run(cmd, f'benchmark_{name}', 240)
            try:
                require_ok(run, f'{TRAIN_STEP} {name}')
                data = json.loads(out.read_text())
            except (CheckFailed, OSError, ValueError) as exc:
                failed.append(f'{name}: {exc}')
                numbers[name] = {'error': str(exc), 'tail': run.tail(20)}
                details.append(f'{name}: FAIL {exc}')
                continue
            numbers[name] = dict(data, wall_s=run.wall_s)
            ips = data['images_per_s']
            details.append(
                f'{name}: time ratio {data["time_ratio"]:.3f} (of minima '
                f'{data["time_ratio_min"]:.3f}), images/s MLS {ips["mls"]:.0f} MoCo '
                f'{ips["moco"]:.0f}, peak MB MLS {data["peak_mb"]["mls"]:.0f} MoCo '
                f'{data["peak_mb"]["moco"]:.0f}, memory ratio {data["memory_ratio"]:.3f}'
            )
        if failed:
            raise CheckFailed('; '.join(failed), numbers=numbers, details=details)
        ratios = [numbers[n]['time_ratio'] for n in BENCHMARK_RUNS]
        memory = [numbers[n]['memory_ratio'] for n in BENCHMARK_RUNS]
        summary = (
            f'{len(ratios)} settings, MLS/MoCo time ratio {min(ratios):.3f}-{max(ratios):.3f}, '
            f'memory ratio {min(memory):.3f}-{max(memory):.3f}'
        )
        return summary, numbers, details

    @staticmethod
    def _step(numbers: dict, errors: list, name: str, fn: Callable) -> None:
        """Run one step of a multi-step check: its numbers, or its error, recorded."""
        try:
            numbers[name] = fn()
        except CheckFailed as exc:
            errors.append(f'{name}: {exc}')
            numbers[name] = {'error': str(exc), 'tail': exc.tail}

    def _dist_train_and_resume(self, check: str, gpus: int, env: dict) -> tuple:
        """``dist_train.sh`` for 2 epochs, then ``--resume`` to epoch 3: (numbers, errors)."""
        train_cmd, resume_cmd = self.plan[check][:2]
        work = self.work / check / 'train'
        per_epoch = NUM_TRAIN // (gpus * BATCH)
        numbers: dict = {}
        errors: list = []

        def train():
            run = self.run(train_cmd, f'{check}_train', 420, env=dict(env, PORT=str(free_port())))
            require_ok(run, DIST_TRAIN)
            nums = loss_summary(scalar_rows(work), list(range(1, 2 * per_epoch + 1)))
            if not (work / 'epoch_2.pth').is_file():
                raise CheckFailed('no epoch_2.pth', run.tail())
            return dict(nums, wall_s=run.wall_s)

        def resume():
            if not (work / 'epoch_2.pth').is_file():
                raise CheckFailed('not run: no epoch_2.pth')
            before = run_dirs(work)
            run = self.run(resume_cmd, f'{check}_resume', 420, env=dict(env, PORT=str(free_port())))
            require_ok(run, f'{DIST_TRAIN} --resume')
            expected = list(range(2 * per_epoch + 1, 3 * per_epoch + 1))
            nums = loss_summary(scalar_rows(work, exclude=before), expected)
            match = re.search(r'resumed epoch: (\d+)', run.text)
            if not match or match.group(1) != '2' or not (work / 'epoch_3.pth').is_file():
                raise CheckFailed('did not resume from epoch 2 to epoch_3.pth', run.tail())
            return dict(nums, wall_s=run.wall_s)

        self._step(numbers, errors, 'train', train)
        self._step(numbers, errors, 'resume', resume)
        return numbers, errors

    def _internal(self, what: str, timeout: float) -> dict:
        cmd = [self.python, str(Path(__file__).resolve()), '--internal', what]
        run = self.run(cmd, what, timeout)
        lines = [ln for ln in run.text.splitlines() if ln.startswith('{')]
        if not lines:
            require_ok(run, what)
            raise CheckFailed(f'{what} printed no result (log {run.log})', run.tail())
        return json.loads(lines[-1])

    def check_no_host_sync(self):
        numbers = self._internal('no_host_sync', 180)
        if numbers['sync_error']:
            raise CheckFailed(f'a training step waited for the GPU: {numbers["sync_error"]}')
        return f'{numbers["steps"]} MLS steps without a device sync', numbers

    def check_bank_peak_memory(self):
        numbers = self._internal('bank_peak_memory', 180)
        summary = ', '.join(
            f'{k} {v["bank_mib"]:g} + {v["temporary_mib"]:g} MiB' for k, v in numbers.items()
        )
        if numbers['int8']['total_mib'] >= numbers['float32']['total_mib']:
            raise CheckFailed(f'the int8 bank saves no peak memory: {summary}', numbers=numbers)
        return f'Q_g bank + ranking temporary: {summary}', numbers

    def check_gpu_views_step(self):
        numbers = self._internal('gpu_views_step', 420)
        rows = {k: v for k, v in numbers.items() if k.startswith('batch')}
        summary = '; '.join(
            f'{k}: premade {v["premade"]:g}, CPU views {v["cpu_views"]:g}, GPU views '
            f'{v["gpu_views"]:g} img/s ({v["gpu_over_premade"]:.0%} of premade)'
            for k, v in rows.items()
        )
        return f'MLS R50 224 px, {numbers["workers"]} workers: {summary}', numbers

    def check_two_ranks_one_gpu(self):
        numbers = self._internal('two_ranks_one_gpu', 240)
        summary = (
            f'2 gloo ranks on one GPU: losses within {numbers["loss_max_rel_diff"]:.1e} (rel) of '
            f'one process each, keys within {numbers["keys_max_abs_diff"]:.1e}, queues '
            f'{"identical" if numbers["queues_identical"] else "DIFFERENT"}, own rows back '
            f'{numbers["own_rows_back"]}'
        )
        if not numbers['ok']:
            raise CheckFailed(summary, numbers=numbers)
        return summary, numbers

    def check_nccl_one_gpu(self):
        self.ensure_scenes()
        self.fresh('nccl_one_gpu')
        env = dict(self.env, PYTHON=self.python)
        numbers, errors = self._dist_train_and_resume('nccl_one_gpu', 1, env)
        if errors:
            raise CheckFailed('; '.join(errors), numbers=numbers)
        train = numbers['train']
        return (
            f'1 x NCCL (torchrun): {train["iterations"]} iterations, loss '
            f'{train["first_loss"]:.3f} -> {train["last_loss"]:.3f}, resumed to epoch 3',
            numbers,
        )

    def check_two_gpus(self):
        import torch

        if not self.args.two_gpus:
            raise CheckSkipped('not requested (pass --two-gpus)')
        if torch.cuda.device_count() < 2:
            raise CheckSkipped(f'needs 2 GPUs, {torch.cuda.device_count()} visible')
        self.ensure_scenes()
        self.fresh('two_gpus')
        write_fail_config(self.work)
        fail_cmd = self.plan['two_gpus'][2]
        env = dict(self.env, PYTHON=self.python)
        numbers, errors = self._dist_train_and_resume('two_gpus', 2, env)

        def fail():
            watch = 'injected failure on rank 1'
            fail_env = dict(env, PORT=str(free_port()))
            fail_env['PYTHONPATH'] = os.pathsep.join([str(REPO / FAIL_HOOK_DIR), env['PYTHONPATH']])
            run = self.run(fail_cmd, 'two_gpus_fail', 300, env=fail_env, watch=watch)
            if run.watch_at is None:
                require_ok(run, f'{DIST_TRAIN} with FailOnRankHook')
                raise CheckFailed(f'no "{watch}" in the log (log {run.log})', run.tail())
            after = run.end_at - run.watch_at
            nums = {'rc': run.rc, 'wall_s': run.wall_s, 'ended_s_after_failure': after}
            if run.timed_out or after > FAIL_DEADLINE_S:
                raise CheckFailed(
                    f'the job ran {after:.0f} s after the failure (limit {FAIL_DEADLINE_S})',
                    run.tail(),
                )
            if run.rc == 0:
                raise CheckFailed('the job exited 0 after the failure', run.tail())
            return nums

        self._step(numbers, errors, 'fail_on_rank_1', fail)
        if errors:
            raise CheckFailed('; '.join(errors), numbers=numbers)
        return (
            f'2 x NCCL: {numbers["train"]["iterations"]} iterations, resumed to epoch 3, '
            f'rank 1 failure ended the job {numbers["fail_on_rank_1"]["ended_s_after_failure"]:.0f}'
            f' s later (exit {numbers["fail_on_rank_1"]["rc"]})',
            numbers,
        )


# --------------------------------------------------------------------------- reporting


def package_versions() -> dict:
    out = {}
    for name in ('torch', 'mmcv', 'mmengine', 'mmpretrain', 'mmdet', 'mmsegmentation', 'numpy'):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state() -> dict:
    try:
        head = subprocess.run(
            ['git', 'rev-parse', 'HEAD'], cwd=REPO, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ['git', 'status', '--porcelain', '--untracked-files=no'],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return {'commit': head or None, 'dirty': bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        return {'commit': None, 'dirty': None}


def system_info() -> dict:
    import torch

    gpu = torch.cuda.is_available()
    info = {
        'date': datetime.now(timezone.utc).isoformat(timespec='seconds'),
        'host': platform.node(),
        'python': platform.python_version(),
        'torch': torch.__version__,
        'cuda': torch.version.cuda,
        'cudnn': torch.backends.cudnn.version() if gpu else None,
        'gpu_available': gpu,
        'gpus': torch.cuda.device_count() if gpu else 0,
        'device': torch.cuda.get_device_name(0) if gpu else None,
        'device_memory_gib': (
            torch.cuda.get_device_properties(0).total_memory / 2**30 if gpu else None
        ),
        'driver': None,
        'cuda_visible_devices': os.environ.get('CUDA_VISIBLE_DEVICES'),
        'packages': package_versions(),
        'git': git_state(),
    }
    if gpu and shutil.which('nvidia-smi'):
        try:
            info['driver'] = (
                subprocess.run(
                    ['nvidia-smi', '--query-gpu=driver_version', '--format=csv,noheader'],
                    capture_output=True,
                    text=True,
                    timeout=20,
                )
                .stdout.split('\n')[0]
                .strip()
            )
        except (OSError, subprocess.SubprocessError):
            pass
    return info


def write_json(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + '.tmp')
    tmp.write_text(json.dumps(result, indent=2, default=str) + '\n')
    os.replace(tmp, path)


def record(result: dict, name: str, status: str, wall_s: float, summary: str, **extra) -> None:
    result['checks'][name] = dict(status=status, wall_s=round(wall_s, 2), summary=summary, **extra)
    print(f'{status} {name} ({wall_s:.1f} s): {summary}', flush=True)
    for line in extra.get('details', []):
        print(f'    {line}', flush=True)


def run_check(smoke: Smoke, name: str, fn: Callable) -> None:
    start = time.monotonic()
    try:
        out = fn()
        summary, numbers = out[0], out[1]
        details = out[2] if len(out) > 2 else []
        wall = time.monotonic() - start
        record(smoke.result, name, 'PASS', wall, summary, numbers=numbers, details=details)
    except CheckSkipped as exc:
        record(smoke.result, name, 'SKIP', time.monotonic() - start, str(exc))
    except CheckFailed as exc:
        wall = time.monotonic() - start
        extra = {'numbers': exc.numbers} if exc.numbers is not None else {}
        extra.update(error=exc.tail, details=exc.details)
        record(smoke.result, name, 'FAIL', wall, str(exc), **extra)
    except Exception as exc:  # a bug or an unexpected state: keep going with the next check
        tail = '\n'.join(traceback.format_exc().splitlines()[-30:])
        summary = f'{type(exc).__name__}: {exc}'
        record(smoke.result, name, 'FAIL', time.monotonic() - start, summary, error=tail)


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        '--out', default=str(REPO / 'work_dirs/gpu_smoke/result.json'), help='result JSON'
    )
    parser.add_argument(
        '--work-dir',
        default=str(REPO / 'work_dirs/gpu_smoke'),
        help='scenes, runs and logs (its check folders are cleared before each check)',
    )
    parser.add_argument('--checks', nargs='+', choices=CHECKS, help='run only these')
    parser.add_argument('--two-gpus', action='store_true', help='also the 2-GPU NCCL checks')
    parser.add_argument(
        '--allow-no-gpu', action='store_true', help='without a GPU: all SKIP and exit 0, not 2'
    )
    parser.add_argument(
        '--budget-s', type=float, default=570, help='start no check after this many seconds'
    )
    parser.add_argument('--bench-iters', type=int, default=10, help='train_step.py --iters')
    parser.add_argument('--bench-warmup', type=int, default=3, help='train_step.py --warmup')
    parser.add_argument('--bench-repeats', type=int, default=2, help='train_step.py --repeats')
    parser.add_argument(
        '--bench-memory-repeats', type=int, default=1, help='train_step.py --memory-repeats'
    )
    parser.add_argument('--python', default=sys.executable, help='interpreter for the commands')
    parser.add_argument(
        '--internal',
        choices=[
            'mmcv_ops',
            'no_host_sync',
            'bank_peak_memory',
            'gpu_views_step',
            'two_ranks_one_gpu',
        ],
        help=argparse.SUPPRESS,
    )
    return parser.parse_args(argv)


def main(argv: Optional[list] = None) -> int:
    args = parse_args(argv)
    if args.internal == 'mmcv_ops':
        numbers = mmcv_ops_numbers('cuda')
        print(json.dumps(numbers))
        return 1 if numbers['failures'] else 0
    if args.internal == 'no_host_sync':
        print(json.dumps(host_sync_numbers('cuda')))
        return 0
    if args.internal == 'bank_peak_memory':
        print(json.dumps(bank_memory_numbers('cuda')))
        return 0
    if args.internal == 'gpu_views_step':
        print(json.dumps(gpu_views_numbers('cuda')))
        return 0
    if args.internal == 'two_ranks_one_gpu':
        numbers = two_rank_numbers('cuda')
        print(json.dumps(numbers))
        return 0 if numbers['ok'] else 1

    start = time.monotonic()
    out = Path(args.out).resolve()
    result = dict(system_info(), argv=sys.argv[1:], work_dir=str(Path(args.work_dir).resolve()))
    result['checks'] = {}
    if not result['gpu_available']:
        for name in CHECKS:
            record(result, name, 'SKIP', 0.0, NO_GPU)
        result.update(ok=args.allow_no_gpu, total_s=round(time.monotonic() - start, 2))
        write_json(out, result)
        print(f'results: {out}')
        if args.allow_no_gpu:
            return 0
        print(
            'gpu_smoke: no CUDA GPU visible (torch.cuda.is_available() is False, '
            f'CUDA_VISIBLE_DEVICES={os.environ.get("CUDA_VISIBLE_DEVICES")!r}), so every check '
            'was skipped. Run it on a GPU machine, or pass --allow-no-gpu to accept that and '
            'exit 0.',
            file=sys.stderr,
        )
        return 2

    print(
        f'gpu_smoke on {result["device"]} ({result["gpus"]} visible), torch {result["torch"]}, '
        f'CUDA {result["cuda"]}; results: {out}',
        flush=True,
    )
    smoke = Smoke(args, result)
    for name in CHECKS:
        if args.checks and name not in args.checks:
            record(result, name, 'SKIP', 0.0, 'not in --checks')
        elif smoke.remaining() <= 0:
            record(result, name, 'SKIP', 0.0, f'time budget spent (--budget-s {args.budget_s:g})')
        else:
            run_check(smoke, name, getattr(smoke, f'check_{name}'))
        result['total_s'] = round(time.monotonic() - start, 2)
        write_json(out, result)
    statuses = [c['status'] for c in result['checks'].values()]
    result['ok'] = 'FAIL' not in statuses
    write_json(out, result)
    print(
        f'{statuses.count("PASS")} passed, {statuses.count("FAIL")} failed, '
        f'{statuses.count("SKIP")} skipped in {result["total_s"]:.0f} s; results: {out}'
    )
    return 0 if result['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
