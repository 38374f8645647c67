"""Summarise what a pretraining run learned, from its logged scalars.

Reads the newest ``*/vis_data/scalars.json`` of a work dir and prints the loss
terms at the start and the end of training, the kNN multi-label mAP before
and after (``KNNMultiLabelHook``), the pseudo-label precision against random
queue entries (``PseudoLabelPrecisionHook``) and the projection's health
(``projection_health``), then says in words whether the run learned:

- ``collapsed``: the centred queue ``Q_z`` spans fewer than 3 effective
  dimensions, or the mean cosine ``z1 Q_z^T`` is above 0.5, at the end;
- ``stopped learning``: the kNN mAP ended at or below its start, or
  ``loss_nce`` ended within 0.5 nat of ``ln(D + 1)``, the loss of a
  projection that tells no image apart (``D`` read from the run's config);
- ``learned``: neither, with the kNN mAP above its start.

With ``--curves`` it also draws them (``tools/analysis/plot_training_curves.py``).
``make demo`` ends with it.

Examples:
    python tools/analysis/summarize_run.py work_dirs/demo --curves work_dirs/demo/curves.png
"""

import argparse
import glob
import json
import math
import os.path as osp
import re
import subprocess
import sys
from statistics import mean, stdev
from typing import Dict, List, Optional, Tuple

Series = Dict[str, List[Tuple[int, float]]]
HEALTH = ('z_queue_cos', 'queue_mean_norm', 'z_align', 'queue_erank')
COLLAPSED_ERANK = 3.0
COLLAPSED_COS = 0.5
UNIFORM_MARGIN = 0.5
# Five one-batch measurements of B x k pairs: at B = 32, k = 4 the difference of the two
# precisions has a std of about 0.02, so +0.05 is clearly above chance.
PSEUDO_LABEL_MARGIN = 0.05


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


def queue_length(scalars_json: str) -> Optional[int]:
    """``model.memory.length`` (MLS) or ``model.queue_len`` (MoCo) of the run's dumped config."""
    config = osp.join(osp.dirname(scalars_json), 'config.py')
    if not osp.isfile(config):
        return None
    with open(config) as f:
        text = f.read()
    # The dumped config is flat Python; the first queue length in the model dict is the one.
    found = re.search(r'memory=dict\(.*?\blength=(\d+)', text) or re.search(
        r'queue_len=(\d+)', text
    )
    return int(found.group(1)) if found else None


def pseudo_label_precision(series: Series, last: int = 5) -> Tuple[int, float, float]:
    """Number of measurements averaged, and the mean precision of the top-k and of random
    queue entries over the last ``last`` measurements (one batch each: noisy alone)."""
    n = min(last, len(series['pl_precision']))
    precision = mean(v for _, v in series['pl_precision'][-n:])
    return n, precision, mean(v for _, v in series['pl_precision_random'][-n:])


def pseudo_label_verdict(series: Series) -> List[str]:
    """Whether the pseudo-positives share categories more often than random queue entries,
    and, in words, what that means for what the run learned."""
    if 'pl_precision' not in series:
        return []
    n, precision, random = pseudo_label_precision(series)
    gap = precision - random
    diffs = [
        top - rnd
        for (_, top), (_, rnd) in zip(
            series['pl_precision'][-n:], series['pl_precision_random'][-n:]
        )
    ]
    spread = f' +- {2 * stdev(diffs) / len(diffs) ** 0.5:.3f} (2 s.e.)' if len(diffs) > 1 else ''
    above = gap >= PSEUDO_LABEL_MARGIN
    lines = [
        f'PSEUDO-LABELS {"ABOVE CHANCE" if above else "AT CHANCE"}: precision {precision:.3f} '
        f'against {random:.3f} for random queue entries ({gap:+.3f}{spread}; above chance: '
        f'>= +{PSEUDO_LABEL_MARGIN})'
    ]
    knn = series.get('knn_mAP', [])
    learned = f' (kNN mAP {knn[-1][1] - knn[0][1]:+.2f})' if len(knn) > 1 else ''
    if above:
        lines.append(
            'In words: the top-k queue entries share a category with their query more often '
            "than chance, so the BCE's multi-label targets carry category information: the "
            'signal MLS adds to InfoNCE is there.'
        )
    else:
        lines.append(
            "In words: the BCE's pseudo-positives are about as often right as random queue "
            'entries, so its multi-label targets carry (almost) no category information in '
            f'this run; what learned{learned} is InfoNCE, which MLS keeps, with the BCE as an '
            'extra push away from the queue (docs/experiments/bce_ablation.md).'
        )
    return lines


def verdict(series: Series, length: Optional[int]) -> List[str]:
    """Whether the run learned, collapsed or stopped learning, with the numbers that say so."""
    problems = []
    if 'queue_erank' in series:
        _, erank = head_and_tail(series['queue_erank'])
        _, cos = head_and_tail(series['z_queue_cos'])
        if erank < COLLAPSED_ERANK or cos > COLLAPSED_COS:
            problems.append(
                f'COLLAPSED: the queue of projections spans {erank:.1f} effective dimensions '
                f'and the mean cosine z1 Q_z is {cos:.2f} at the end (collapse: < '
                f'{COLLAPSED_ERANK:.0f} dimensions or > {COLLAPSED_COS})'
            )
    knn = series.get('knn_mAP', [])
    if len(knn) > 1 and knn[-1][1] <= knn[0][1]:
        problems.append(
            f'STOPPED LEARNING: the kNN mAP ended at {knn[-1][1]:.2f}, not above its start '
            f'{knn[0][1]:.2f}'
        )
    if 'loss_nce' in series and length:
        uniform = math.log(length + 1)
        _, last = head_and_tail(series['loss_nce'])
        if last > uniform - UNIFORM_MARGIN:
            problems.append(
                f'STOPPED LEARNING: loss_nce ended at {last:.2f}, within {UNIFORM_MARGIN} of '
                f'ln(D + 1) = {uniform:.2f}, where no image is told apart'
            )
    if problems:
        return problems
    if len(knn) > 1:
        below = ''
        if length and 'loss_nce' in series:
            gap = math.log(length + 1) - head_and_tail(series['loss_nce'])[1]
            below = f', {gap:.2f} nat below ln(D + 1)'
        return [
            f'LEARNED: kNN mAP {knn[0][1]:.2f} -> {knn[-1][1]:.2f} '
            f'({knn[-1][1] - knn[0][1]:+.2f}){below}, no collapse'
        ]
    return []


def summary(series: Series) -> List[str]:
    lines = []
    if series:  # the loss log may skip the last iterations; the monitors log at the end
        lines.append(f'iterations: {max(step for points in series.values() for step, _ in points)}')
    if 'loss_nce' in series:
        first, last = head_and_tail(series['loss_nce'])
        lines.append(f'loss_nce: {first:.3f} -> {last:.3f} (first / last 10% of the log)')
    if 'loss_ml' in series:
        # Under BCEWarmupHook the BCE is logged as 0 until it comes on: summarise it from there.
        scale = dict(series.get('ml_scale', []))
        on = [(step, v) for step, v in series['loss_ml'] if scale.get(step, 1.0) > 0]
        if on:
            first, last = head_and_tail(on)
            since = f', on from iter {on[0][0]}' if on[0][0] != series['loss_ml'][0][0] else ''
            lines.append(f'loss_ml: {first:.3f} -> {last:.3f} (first / last 10% of the log{since})')
        else:
            lines.append('loss_ml: never on (BCEWarmupHook kept its scale at 0)')
    if 'knn_mAP' in series:
        (s0, v0), (s1, v1) = series['knn_mAP'][0], series['knn_mAP'][-1]
        best_step, best = max(series['knn_mAP'], key=lambda p: p[1])
        lines.append(
            f'kNN multi-label mAP: {v0:.2f} at iter {s0} -> {v1:.2f} at iter {s1} '
            f'(best {best:.2f} at iter {best_step})'
        )
    if 'pl_precision' in series:
        n, precision, random = pseudo_label_precision(series)
        own = mean(v for _, v in series.get('pl_self_share', [(0, 0.0)])[-n:])
        lines.append(
            f'pseudo-label precision: {precision:.3f} of the top-k queue entries share a category '
            f'with their query, {random:.3f} for random entries (last {n} measurements; '
            f"{own:.1%} were the query's own image and are left out)"
        )
    if 'queue_erank' in series:
        first, last = zip(*(head_and_tail(series[key]) for key in HEALTH))
        lines.append(
            'projection health, first -> last 10% (mean z1 Q_z, |mean Q_z|, cos(mean z1, '
            'mean Q_z), effective rank of Q_z): '
            + ', '.join(f'{a:.2f} -> {b:.2f}' for a, b in zip(first, last))
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
    print(
        '\n'.join(
            f'  {line}'
            for line in lines + verdict(series, queue_length(path)) + pseudo_label_verdict(series)
        )
    )
    if args.curves:
        script = osp.join(osp.dirname(osp.abspath(__file__)), 'plot_training_curves.py')
        subprocess.run([sys.executable, script, args.work_dir, '--out', args.curves], check=True)


if __name__ == '__main__':
    main()
