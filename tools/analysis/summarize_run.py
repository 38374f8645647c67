"""Summarise what a pretraining run learned, from its logged scalars.

Reads the newest ``*/vis_data/scalars.json`` of a work dir and prints the loss
terms at the start and the end of training, the kNN multi-label mAP before
and after (``KNNMultiLabelHook``) and the pseudo-label precision against
random queue entries (``PseudoLabelPrecisionHook``); with ``--curves`` it also
draws them (``tools/analysis/plot_training_curves.py``). ``make demo`` ends
with it.

Examples:
    python tools/analysis/summarize_run.py work_dirs/demo --curves work_dirs/demo/curves.png
"""

import argparse
import glob
import json
import os.path as osp
import subprocess
import sys
from statistics import mean
from typing import Dict, List, Tuple

Series = Dict[str, List[Tuple[int, float]]]


def read_series(run: str) -> Tuple[str, Series]:
    """``metric -> [(step, value), ...]`` from a work dir or a scalars.json path."""
    if osp.isdir(run):
        found = sorted(glob.glob(osp.join(run, '*', 'vis_data', 'scalars.json')))
        if not found:
            raise FileNotFoundError(f'no */vis_data/scalars.json under {run}')
        run = found[-1]
    elif not osp.isfile(run):
        raise FileNotFoundError(f'{run}: no such work dir or scalars.json')
    series: Series = {}
    with open(run) as f:
        for line in f:
            record = json.loads(line)
            for key, value in record.items():
                if key != 'step' and isinstance(value, (int, float)):
                    series.setdefault(key, []).append((record['step'], float(value)))
    return run, series


def head_and_tail(points: List[Tuple[int, float]], share: float = 0.1) -> Tuple[float, float]:
    """Means of the first and the last ``share`` of the logged values."""
    n = max(1, int(len(points) * share))
    return mean(v for _, v in points[:n]), mean(v for _, v in points[-n:])


def summary(series: Series) -> List[str]:
    lines = []
    if series:  # the loss log may skip the last iterations; the monitors log at the end
        lines.append(f'iterations: {max(step for points in series.values() for step, _ in points)}')
    for key in ('loss_nce', 'loss_ml'):
        if key in series:
            first, last = head_and_tail(series[key])
            lines.append(f'{key}: {first:.3f} -> {last:.3f} (first / last 10% of the log)')
    if 'knn_mAP' in series:
        (s0, v0), (s1, v1) = series['knn_mAP'][0], series['knn_mAP'][-1]
        best_step, best = max(series['knn_mAP'], key=lambda p: p[1])
        lines.append(
            f'kNN multi-label mAP: {v0:.2f} at iter {s0} -> {v1:.2f} at iter {s1} '
            f'(best {best:.2f} at iter {best_step})'
        )
    if 'pl_precision' in series:
        n = min(5, len(series['pl_precision']))
        precision = mean(v for _, v in series['pl_precision'][-n:])
        random = mean(v for _, v in series['pl_precision_random'][-n:])
        own = mean(v for _, v in series.get('pl_self_share', [(0, 0.0)])[-n:])
        lines.append(
            f'pseudo-label precision: {precision:.3f} of the top-k queue entries share a category '
            f'with their query, {random:.3f} for random entries (last {n} measurements; '
            f"{own:.1%} were the query's own image and are left out)"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dir', help='a training work dir or its scalars.json')
    parser.add_argument('--curves', help='also plot the curves into this PNG file')
    args = parser.parse_args()
    path, series = read_series(args.work_dir)
    lines = summary(series)
    if not lines:
        sys.exit(f'{path}: no training scalars logged yet')
    print(f'Summary of {path}:')
    print('\n'.join(f'  {line}' for line in lines))
    if args.curves:
        script = osp.join(osp.dirname(osp.abspath(__file__)), 'plot_training_curves.py')
        subprocess.run([sys.executable, script, args.work_dir, '--out', args.curves], check=True)


if __name__ == '__main__':
    main()
