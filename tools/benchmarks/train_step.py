"""Train-step time and peak memory of MLS against mmpretrain's MoCo (v2), side by side.

Both models get the same backbone, projector, batch, image size, queue length and SGD
optimizer and run the full ``model.train_step`` (data preprocessor, forward, backward, update,
EMA, enqueue). The two are alternated in one process, with warm-up, over several repeats; the
script reports medians and the MLS / MoCo ratio. Peak memory is measured per model in fresh
subprocesses (CPU: peak RSS growth during the steps, median of ``--memory-repeats``
processes; CUDA: ``max_memory_allocated``).

Examples:
    python tools/benchmarks/train_step.py --depth 18 --img 96 --batch 32 --queue 4096
    python tools/benchmarks/train_step.py --depth 50 --img 224 --batch 32 --device cuda --amp
    python tools/benchmarks/train_step.py --depth 18 --img 96 --batch 32 --amp  # CPU bfloat16
"""

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone

import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mls_plugin  # noqa: F401

WIDTH = {18: 512, 34: 512, 50: 2048, 101: 2048}


def build(name: str, args) -> torch.nn.Module:
    d_g, d_z = WIDTH[args.depth], 256 if args.depth >= 50 else 128
    backbone = dict(type='ResNet', depth=args.depth, zero_init_residual=False)
    neck = dict(type='MoCoV2Neck', in_channels=d_g, hid_channels=d_g, out_channels=d_z)
    if name == 'mls':
        cfg = dict(
            type='MLS',
            momentum=0.005,
            backbone=backbone,
            neck=dict(neck, with_avg_pool=False),
            head=dict(type='MLSHead', topk=args.topk, temperature=0.2),
            memory=dict(
                type='QueueMemory',
                length=args.queue,
                banks=dict(g=d_g, z=d_z),
                dtypes=dict(g=args.g_dtype),
            ),
        )
    else:
        cfg = dict(
            type='MoCo',
            queue_len=args.queue,
            feat_dim=d_z,
            momentum=0.005,
            backbone=backbone,
            neck=dict(neck, with_avg_pool=True),
            head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.2),
        )
    cfg['data_preprocessor'] = dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True,
    )
    model = MODELS.build(cfg).to(args.device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model.train()


class CpuAutocastOptimWrapper(OptimWrapper):
    """bfloat16 autocast around forward and loss: ``--amp`` on CPU.

    mmengine's ``AmpOptimWrapper`` asserts a CUDA (or NPU, MLU) device; this is the same
    mixed-precision forward on CPU, without a loss scaler (bfloat16 has float32's range).
    """

    @contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast('cpu', dtype=torch.bfloat16):
            yield


def make_optim(model, args):
    sgd = torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9, weight_decay=1e-4)
    if not args.amp:
        return OptimWrapper(optimizer=sgd)
    if args.device.startswith('cuda'):
        return AmpOptimWrapper(optimizer=sgd)
    return CpuAutocastOptimWrapper(optimizer=sgd)


def make_batch(args, seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    shape = (args.batch, 3, args.img, args.img)
    views = [torch.randint(0, 256, shape, generator=gen, dtype=torch.uint8) for _ in range(2)]
    return dict(inputs=views, data_samples=[DataSample() for _ in range(args.batch)])


def sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def step_times(model, optim, args, n: int) -> list:
    times = []
    for i in range(n):
        batch = make_batch(args, i)
        sync(args.device)
        start = time.perf_counter()
        model.train_step(batch, optim)
        sync(args.device)
        times.append(time.perf_counter() - start)
    return times


def _status_mb(field: str) -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f'{field} not in /proc/self/status')


def peak_memory_mb(name: str, args) -> float:
    """Run one model in this (fresh) process and return its peak memory in MB.

    CUDA: ``max_memory_allocated`` over the timed steps. CPU (Linux): the peak
    resident set during the timed steps (VmHWM, reset through
    ``/proc/self/clear_refs`` after the first step) minus the resident set
    before the model was built, so weights, optimizer state, queues and the
    activation peak all count.
    """
    baseline = _status_mb('VmRSS')
    model = build(name, args)
    optim = make_optim(model, args)
    step_times(model, optim, args, 1)
    if args.device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
        step_times(model, optim, args, args.iters)
        return torch.cuda.max_memory_allocated() / 2**20
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # resets VmHWM to the current resident set
    step_times(model, optim, args, args.iters)
    return _status_mb('VmHWM') - baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--depth', type=int, default=18, choices=sorted(WIDTH))
    parser.add_argument('--img', type=int, default=96)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--queue', type=int, default=4096)
    parser.add_argument('--topk', type=int, default=20)
    parser.add_argument('--iters', type=int, default=5, help='timed steps per repeat')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--g-dtype', default='float32', help="MLS's pseudo-label bank dtype")
    parser.add_argument(
        '--amp', action='store_true', help='CUDA: AmpOptimWrapper; CPU: bfloat16 autocast'
    )
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument(
        '--memory-repeats', type=int, default=3, help='fresh processes per model for memory'
    )
    parser.add_argument('--threads', type=int, default=0, help='torch CPU threads (0: default)')
    parser.add_argument('--out', help='write the results as JSON here')
    parser.add_argument('--memory-of', choices=['mls', 'moco'], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    init_default_scope('mmpretrain')

    if args.memory_of:  # child process: one model, one number
        print(json.dumps(dict(peak_mb=peak_memory_mb(args.memory_of, args))))
        return

    models = {name: build(name, args) for name in ('mls', 'moco')}
    optims = {name: make_optim(m, args) for name, m in models.items()}
    for name in models:
        step_times(models[name], optims[name], args, args.warmup)
    per_step = {name: [] for name in models}
    for r in range(args.repeats):
        order = ('mls', 'moco') if r % 2 == 0 else ('moco', 'mls')
        for name in order:
            per_step[name].append(
                statistics.median(step_times(models[name], optims[name], args, args.iters))
            )
    median = {name: statistics.median(v) for name, v in per_step.items()}
    best = {name: min(v) for name, v in per_step.items()}  # robust to a busy machine

    child = [sys.executable, __file__] + sys.argv[1:]
    if '--out' in child:
        i = child.index('--out')
        del child[i : i + 2]
    # The resident set of one process varies by tens of MB from run to run (allocator
    # arenas, thread pools): median over fresh processes, alternating the models.
    peaks = {name: [] for name in models}
    for _ in range(args.memory_repeats):
        for name in models:
            res = subprocess.run(
                child + ['--memory-of', name], capture_output=True, text=True, check=True
            )
            peaks[name].append(json.loads(res.stdout.strip().splitlines()[-1])['peak_mb'])
    memory = {name: statistics.median(v) for name, v in peaks.items()}

    device = (
        torch.cuda.get_device_name() if args.device.startswith('cuda') else platform.processor()
    )
    result = dict(
        date=datetime.now(timezone.utc).isoformat(timespec='seconds'),
        device=device or platform.machine(),
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        settings={k: v for k, v in vars(args).items() if k not in ('out', 'memory_of')},
        step_s=median,
        step_s_per_repeat=per_step,
        images_per_s={n: args.batch / t for n, t in median.items()},
        time_ratio=median['mls'] / median['moco'],
        step_s_min=best,
        time_ratio_min=best['mls'] / best['moco'],
        peak_mb=memory,
        peak_mb_per_process=peaks,
        memory_ratio=memory['mls'] / memory['moco'],
    )
    print(
        f'ResNet-{args.depth} {args.img}px B={args.batch} D={args.queue} k={args.topk} '
        f'Q_g {args.g_dtype} {args.device}{" amp" if args.amp else ""}'
        f'{" channels_last" if args.channels_last else ""}: '
        f'MLS {median["mls"] * 1e3:.1f} ms, MoCo {median["moco"] * 1e3:.1f} ms, '
        f'ratio {result["time_ratio"]:.3f} (of minima {result["time_ratio_min"]:.3f}); '
        f'peak MB MLS {memory["mls"]:.0f}, '
        f'MoCo {memory["moco"]:.0f}, ratio {result["memory_ratio"]:.3f}'
    )
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)


if __name__ == '__main__':
    main()
