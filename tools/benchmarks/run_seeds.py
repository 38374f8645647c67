"""Run one benchmark config with several seeds; write mean +- std of its final metrics.

The paper averages VOC detection over 3 runs and Cityscapes over 2. Each seed is a plain
``tools/train.py`` run (or ``tools/dist_train.sh`` with ``--gpus``) in ``WORK/seed<k>``, with
``randomness.seed=k``; its validation metrics, read from the run's ``scalars.json``, are
written to ``WORK/seed<k>/metrics.json``: each metric's last value under its own name and its
highest over the run's validations as ``best/<name>`` (the small-dataset lineage reports the
best test epoch; the last is the unselected number). A seed whose file exists is not run again
(a study can be finished across sessions). ``WORK/summary.json`` holds every metric's values,
mean and standard deviation; ``--markdown`` appends one table row.

``--lrs`` sweeps the learning rate (the paper states none for its fine-tuning; the authors'
group scripts use 0.001 to 0.1): every seed runs at every lr, in ``WORK/lr<lr>/seed<k>``, with
one summary and one table row per lr.

Examples:
    python tools/benchmarks/run_seeds.py \\
        configs/benchmarks/mmdet/faster-rcnn_r50-c4-syncbn_ms-24k_voc0712.py \\
        --seeds 0 1 2 --gpus 8 --pretrained work_dirs/mls/epoch_800.pth --work-dir work_dirs/voc_det
    python tools/benchmarks/run_seeds.py configs/benchmarks/finetune/resnet50_cub-120e.py \
        --seeds 0 --gpus 8 --lrs 0.001 0.003 0.01 0.03 0.1 --work-dir work_dirs/cub_lr
"""

import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
from statistics import mean, stdev
from typing import Dict, List

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NOT_METRICS = {'step', 'epoch', 'iter', 'lr', 'time', 'data_time', 'memory'}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--pretrained', help='passed to tools/train.py')
    parser.add_argument('--gpus', type=int, default=0, help='> 0: tools/dist_train.sh on N GPUs')
    parser.add_argument('--markdown', help='append the row of mean +- std to this file')
    parser.add_argument(
        '--lrs',
        type=float,
        nargs='+',
        help='sweep optim_wrapper.optimizer.lr over these values (every seed at every lr)',
    )
    parser.add_argument(
        '--cfg-options', nargs='+', default=[], help='passed to tools/train.py for every seed'
    )
    return parser.parse_args()


def final_metrics(work_dir: str) -> Dict[str, float]:
    """The last validation record of the run, and each metric's best as ``best/<name>``.

    A validation record is one without a loss or an lr. The best is the highest value (the
    metrics of these benchmarks are accuracies, mAP and AP).
    """
    paths = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not paths:
        raise FileNotFoundError(f'{work_dir}: no */vis_data/scalars.json (did the run start?)')
    last: Dict[str, float] = {}
    best: Dict[str, float] = {}
    for line in open(paths[-1]):
        record = json.loads(line)
        if not any('loss' in key for key in record) and 'lr' not in record:
            metrics = {
                k: float(v)
                for k, v in record.items()
                if k not in NOT_METRICS and isinstance(v, (int, float))
            }
            last = metrics or last
            for k, v in metrics.items():
                best[k] = max(v, best.get(k, v))
    if not last:
        raise ValueError(f'{paths[-1]}: no validation metrics logged')
    return {**last, **{f'best/{k}': v for k, v in best.items()}}


def run_seed(
    args: argparse.Namespace, seed: int, work_dir: str, extra: List[str]
) -> Dict[str, float]:
    work = osp.join(work_dir, f'seed{seed}')
    result = osp.join(work, 'metrics.json')
    if osp.isfile(result):
        print(f'seed {seed}: done before, {result}')
        with open(result) as f:
            return json.load(f)
    if args.gpus > 0:
        cmd = ['bash', osp.join(REPO, 'tools/dist_train.sh'), args.config, str(args.gpus)]
    else:
        cmd = [sys.executable, osp.join(REPO, 'tools/train.py'), args.config]
    cmd += ['--work-dir', work]
    if args.pretrained:
        cmd += ['--pretrained', args.pretrained]
    cmd += ['--cfg-options', f'randomness.seed={seed}', *args.cfg_options, *extra]
    print(f'seed {seed}: {" ".join(cmd)}', flush=True)
    subprocess.run(cmd, check=True)
    metrics = final_metrics(work)
    with open(result, 'w') as f:
        json.dump(metrics, f, indent=1)
    return metrics


def summarize(per_seed: Dict[int, Dict[str, float]]) -> Dict[str, dict]:
    names = sorted(set.intersection(*(set(m) for m in per_seed.values())))
    summary = {}
    for name in names:
        values: List[float] = [per_seed[s][name] for s in sorted(per_seed)]
        spread = stdev(values) if len(values) > 1 else 0.0
        summary[name] = dict(mean=mean(values), std=spread, values=values)
    return summary


def markdown_row(config: str, seeds: List[int], summary: Dict[str, dict]) -> str:
    cells = [
        f'{name} {s["mean"]:.2f} +- {s["std"]:.2f} ({" / ".join(f"{v:.2f}" for v in s["values"])})'
        for name, s in summary.items()
    ]
    return f'| {osp.basename(config)} | {",".join(map(str, seeds))} | {"; ".join(cells)} |'


def main() -> None:
    args = parse_args()
    runs = [(args.work_dir, [], args.config)]
    if args.lrs:
        runs = [
            (osp.join(args.work_dir, f'lr{lr:g}'), [f'optim_wrapper.optimizer.lr={lr}'],
             f'{args.config} lr {lr:g}')
            for lr in args.lrs
        ]  # fmt: skip
    for work_dir, extra, name in runs:
        os.makedirs(work_dir, exist_ok=True)
        per_seed = {seed: run_seed(args, seed, work_dir, extra) for seed in args.seeds}
        summary = summarize(per_seed)
        with open(osp.join(work_dir, 'summary.json'), 'w') as f:
            json.dump(dict(config=args.config, seeds=args.seeds, metrics=summary), f, indent=1)
        row = markdown_row(name, args.seeds, summary)
        print(row)
        if args.markdown:
            with open(args.markdown, 'a') as f:
                f.write(row + '\n')


if __name__ == '__main__':
    main()
