"""Plot the training curves of one or more pretraining runs into a PNG.

Usage:
    python tools/analysis/plot_training_curves.py RUN [RUN ...] --out FILE.png [--labels A B ...]

RUN is a work dir (its newest ``*/vis_data/scalars.json`` is read) or a
scalars.json file. The PNG has one panel per metric logged among
``loss_nce``, ``loss_ml``, ``pl_precision`` (with ``pl_precision_random``, the
precision of random queue entries, dashed in the same colour) and
``knn_mAP``, and the projection's health (``z_queue_cos``, ``z_align``,
``queue_mean_norm``, ``queue_erank``; see ``projection_health``), four panels
a row, against the iteration; several runs are overlaid, labelled by
``--labels`` or their folder names. A run that logs only ``loss`` (MoCo) has
it drawn as its ``loss_nce``.

Examples:
    python tools/analysis/plot_training_curves.py work_dirs/demo --out curves.png
    python tools/analysis/plot_training_curves.py runs/mls runs/moco --labels MLS MoCo --out c.png
"""

import argparse
import math
import os
import os.path as osp
import sys

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from summarize_run import read_series  # noqa: E402

PANELS = (
    ('loss_nce', 'InfoNCE loss (loss_nce)'),
    ('loss_ml', 'weighted BCE loss (loss_ml)'),
    ('pl_precision', 'pseudo-label precision (dashed: random entries)'),
    ('knn_mAP', 'kNN multi-label mAP (%)'),
    ('z_queue_cos', 'mean cosine z1 Q_z (collapse -> 1)'),
    ('z_align', 'cos(mean z1, mean Q_z) (< 0: online runs from its keys)'),
    ('queue_mean_norm', 'norm of the mean of Q_z'),
    ('queue_erank', 'effective rank of the centred Q_z'),
)
PER_ROW = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+', help='work dirs or scalars.json files')
    parser.add_argument('--out', required=True, help='PNG file to write')
    parser.add_argument('--labels', nargs='+', help='legend entries (default: the run folders)')
    args = parser.parse_args()
    if args.labels and len(args.labels) != len(args.runs):
        sys.exit(f'--labels: {len(args.labels)} labels for {len(args.runs)} runs')
    runs = []
    for i, run in enumerate(args.runs):
        try:
            _, series = read_series(run)
        except FileNotFoundError as err:
            sys.exit(str(err))
        runs.append((args.labels[i] if args.labels else osp.basename(osp.normpath(run)), series))
    for _, series in runs:  # a MoCo-style run logs its InfoNCE as plain `loss`
        if 'loss_nce' not in series and 'loss_ml' not in series and 'loss' in series:
            series['loss_nce'] = series['loss']
    panels = [(key, title) for key, title in PANELS if any(key in s for _, s in runs)]
    if not panels:
        sys.exit(f'none of {[k for k, _ in PANELS]} was logged in {args.runs}')

    rows = math.ceil(len(panels) / PER_ROW)
    cols = min(len(panels), PER_ROW)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.axis('off')
    for ax, (key, title) in zip(axes.flat, panels):
        for i, (label, series) in enumerate(runs):
            if key not in series:
                continue
            color = f'C{i}'
            steps, values = zip(*series[key])
            ax.plot(steps, values, color=color, label=label, lw=1.2)
            if key == 'pl_precision' and 'pl_precision_random' in series:
                steps, values = zip(*series['pl_precision_random'])
                ax.plot(steps, values, color=color, ls='--', lw=1.0)
        ax.set_title(title, fontsize=8)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
