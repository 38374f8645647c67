"""Paired differences of each variant to a baseline over seeds, with 95 % t-intervals.

Reads every ``result.json`` under a study folder (``compare_pretraining.py``'s ``--out-dir``),
pairs each variant's runs with the baseline's of the same dataset and seed, and prints, per
metric, every seed's value, mean +- std, and the paired difference to the baseline: per seed,
mean, and the 95 % t-interval of the mean difference. The verdict follows one rule everywhere:
an interval that contains 0 is "no difference"; otherwise "ahead" or "behind".

    python tools/analysis/paired_differences.py work_dirs/bce_ablation --baseline infonce \\
        --markdown docs/experiments/bce_ablation_table.md
"""

import argparse
import json
import os
import os.path as osp
import sys
from statistics import mean, stdev
from typing import Dict, List, Optional, Tuple

from scipy import stats

METRICS = (
    ('knn_map', 'kNN mAP (val)'),
    ('linear_map', 'linear-probe mAP (val)'),
    ('select_knn_map', 'kNN mAP (train split)'),
    ('pl_precision', 'pseudo-label precision'),
    ('svm_map', 'VOC SVM mAP'),
    ('det_bbox_map', 'detection box AP'),
    ('det_bbox_map50', 'detection box AP50'),
)


def load(folder: str) -> List[dict]:
    """Every ``result.json`` below ``folder`` (``compare_pretraining.py``'s runs), in path order."""
    results = []
    for root, _, files in sorted(os.walk(folder)):
        if 'result.json' in files:
            with open(osp.join(root, 'result.json')) as f:
                results.append(json.load(f))
    return results


def t_interval(diffs: List[float], level: float = 0.95) -> Optional[Tuple[float, float]]:
    """The ``level`` t-interval of the mean of ``diffs``; None with fewer than 2."""
    if len(diffs) < 2:
        return None
    half = stats.t.ppf(0.5 + level / 2, len(diffs) - 1) * stdev(diffs) / len(diffs) ** 0.5
    return mean(diffs) - half, mean(diffs) + half


def verdict(interval: Optional[Tuple[float, float]]) -> str:
    if interval is None:
        return 'one seed: no interval'
    low, high = interval
    if low <= 0 <= high:
        return 'no difference'
    return 'ahead' if low > 0 else 'behind'


def paired_table(results: List[dict], baseline: str, metric: str) -> List[Dict]:
    """One row per (dataset, variant): seeds, values, and paired differences to ``baseline``."""
    runs: Dict[Tuple[str, str], Dict[int, float]] = {}
    for r in results:
        if metric in r:
            runs.setdefault((r['dataset'], r['variant']), {})[r['seed']] = r[metric]
    rows = []
    for (dataset, variant), by_seed in sorted(runs.items()):
        seeds = sorted(by_seed)
        row = dict(
            dataset=dataset, variant=variant, seeds=seeds, values=[by_seed[s] for s in seeds]
        )
        base = runs.get((dataset, baseline), {})
        if variant != baseline:
            paired = [s for s in seeds if s in base]
            row['paired_seeds'] = paired
            row['diffs'] = [by_seed[s] - base[s] for s in paired]
            row['interval'] = t_interval(row['diffs'])
        rows.append(row)
    return rows


def spread(values: List[float], fmt: str) -> str:
    every = ' / '.join(fmt.format(v) for v in values)
    if len(values) < 2:
        return every
    return f'{fmt.format(mean(values))} +- {fmt.format(stdev(values))} ({every})'


def markdown(results: List[dict], baseline: str) -> str:
    out = []
    for metric, title in METRICS:
        rows = paired_table(results, baseline, metric)
        if not rows:
            continue
        fmt = '{:.3f}' if metric == 'pl_precision' else '{:.2f}'
        diff_fmt = '{:+.3f}' if metric == 'pl_precision' else '{:+.2f}'
        out += [
            f'### {title}',
            '',
            f'| data | variant | seeds | {title}: mean +- std (per seed) | paired difference to '
            f'{baseline} (per seed) | 95 % t-interval | verdict |',
            '| --- | --- | --- | --- | --- | --- | --- |',
        ]
        for row in rows:
            cells = [row['dataset'], row['variant'], ','.join(map(str, row['seeds']))]
            cells.append(spread(row['values'], fmt))
            if 'diffs' in row and row['diffs']:
                diffs = row['diffs']
                every = ' / '.join(diff_fmt.format(d) for d in diffs)
                cells.append(f'{diff_fmt.format(mean(diffs))} ({every})')
                interval = row['interval']
                cells.append(
                    '-'
                    if interval is None
                    else f'[{diff_fmt.format(interval[0])}, {diff_fmt.format(interval[1])}]'
                )
                cells.append(verdict(interval))
            else:
                cells += ['(baseline)' if row['variant'] == baseline else '-', '-', '-']
            out.append('| ' + ' | '.join(cells) + ' |')
        out.append('')
    return '\n'.join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('folder', help="a study's --out-dir (result.json files below it)")
    parser.add_argument('--baseline', default='infonce', help='the variant to pair against')
    parser.add_argument('--markdown', help='also write the tables to this file')
    args = parser.parse_args()
    results = load(args.folder)
    if not results:
        sys.exit(f'{args.folder}: no result.json below it')
    text = markdown(results, args.baseline)
    print(text)
    if args.markdown:
        with open(args.markdown, 'w') as f:
            f.write(text + '\n')


if __name__ == '__main__':
    main()
