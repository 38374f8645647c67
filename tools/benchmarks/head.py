"""Cost of the MLS head alone: pseudo-labels + both losses (+ backward) + enqueue.

For every queue length D, top-k and batch B, times one call of ``MLSHead.loss`` with its
backward to ``z1`` and the ``QueueMemory.enqueue`` of both banks, against the same for the
InfoNCE-only head (the MoCo-v2 part of it). The difference is what MLS adds to a step; with
``--step-json`` (output of train_step.py) it is also shown as a share of that full step.

Example:
    python tools/benchmarks/head.py --out head.json
    python tools/benchmarks/head.py --queues 4096 --topks 20 --batches 32 --step-json step.json
    python tools/benchmarks/head.py --queues 65536 --topks 20 --batches 32 --g-dtype int8
"""

import argparse
import json
import statistics
import time
from itertools import product

import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

import mls_plugin  # noqa: F401


def time_head(head, memory, batch: int, d_g: int, d_z: int, device: str, repeats: int) -> float:
    gen = torch.Generator().manual_seed(0)
    z1 = F.normalize(torch.randn(batch, d_z, generator=gen), dim=1).to(device)
    z2 = F.normalize(torch.randn(batch, d_z, generator=gen), dim=1).to(device)
    g1 = torch.randn(batch, d_g, generator=gen).to(device)
    g2 = torch.randn(batch, d_g, generator=gen).to(device)
    times = []
    for i in range(repeats + 2):
        q = z1.clone().requires_grad_(True)
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        start = time.perf_counter()
        losses = head.loss(q, z2, g1, memory)
        sum(losses.values()).backward()
        memory.enqueue(g=g2, z=z2)
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        if i >= 2:  # warm-up
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--queues', type=int, nargs='+', default=[4096, 16384, 65536])
    parser.add_argument('--topks', type=int, nargs='+', default=[1, 20, 40])
    parser.add_argument('--batches', type=int, nargs='+', default=[32, 256])
    parser.add_argument('--dim-g', type=int, default=2048)
    parser.add_argument('--dim-z', type=int, default=256)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--g-dtype', default='float32', help='storage of Q_g, e.g. int8')
    parser.add_argument('--step-json', help='train_step.py output: report the share of a step')
    parser.add_argument('--out')
    args = parser.parse_args()
    init_default_scope('mmpretrain')
    step = None
    if args.step_json:
        with open(args.step_json) as f:
            step = json.load(f)
    rows = []
    for queue, batch in product(args.queues, args.batches):
        memory = MODELS.build(
            dict(
                type='QueueMemory',
                length=queue,
                banks=dict(g=args.dim_g, z=args.dim_z),
                dtypes=dict(g=args.g_dtype),
            )
        ).to(args.device)
        nce = MODELS.build(dict(type='MLSHead', loss_ml=None))
        base = time_head(nce, memory, batch, args.dim_g, args.dim_z, args.device, args.repeats)
        for topk in args.topks:
            head = MODELS.build(dict(type='MLSHead', topk=topk))
            t = time_head(head, memory, batch, args.dim_g, args.dim_z, args.device, args.repeats)
            row = dict(queue=queue, topk=topk, batch=batch, mls_ms=t * 1e3, infonce_ms=base * 1e3)
            row['extra_ms'] = row['mls_ms'] - row['infonce_ms']
            if step and step['settings']['batch'] == batch:
                row['share_of_step'] = t / step['step_s']['mls']
            rows.append(row)
            share = f'  {row["share_of_step"]:.1%} of a step' if 'share_of_step' in row else ''
            print(
                f'D={queue:6d} k={topk:2d} B={batch:3d}: MLS head {row["mls_ms"]:8.2f} ms, '
                f'InfoNCE only {row["infonce_ms"]:8.2f} ms, extra {row["extra_ms"]:7.2f} ms{share}'
            )
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(settings=vars(args), rows=rows), f, indent=2)


if __name__ == '__main__':
    main()
