"""Plot the distributions of the backbone and projection scores at a checkpoint (Fig. 3).

Usage:
    python tools/analysis/plot_score_distribution.py CONFIG CHECKPOINT --out FILE.png \\
        [--num-queries 256] [--ann-file F --data-prefix P] [--seed 0]

Writes one PNG with two panels, the backbone scores ``g1 Q_g^T`` (what the
pseudo-labels rank) and the projection scores ``z1 Q_z^T`` (the InfoNCE
negatives, before ``/ tau``). Each panel shows the normalised density of all
(query, queue entry) scores and that of each query's top-k entries by ``g``
(its pseudo-positives, ``k = head.topk``). Prints the mean of both groups in
both spaces.

The queue is the checkpoint's own (``memory.bank('g')`` and ``bank('z')``);
the queries are ``--num-queries`` sampled images of the labelled dataset (the
config's training COCO json, or ``--ann-file``/``--data-prefix``), one centre
view each, encoded by the online branch into ``g1`` and ``z1``.

Examples:
    python tools/analysis/plot_score_distribution.py CONFIG CHECKPOINT --out scores.png
"""

import argparse
import os
import os.path as osp
import sys

import matplotlib
import torch
import torch.nn.functional as F

import mls_plugin  # noqa: F401  (registers the components)
from mls_plugin.analysis import encode_online, load_mls_with_images

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the pretraining config')
    parser.add_argument('checkpoint', help='an MLS checkpoint of that config')
    parser.add_argument('--out', required=True, help='PNG file to write')
    parser.add_argument('--ann-file', help="COCO json of the images (default: the config's)")
    parser.add_argument('--data-prefix', help='image folder of --ann-file')
    parser.add_argument('--num-queries', type=int, default=256, help='sampled query images')
    parser.add_argument('--seed', type=int, default=0, help='draws the queries')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    try:
        cfg, model, dataset = load_mls_with_images(
            args.config, args.checkpoint, args.ann_file, args.data_prefix
        )
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f'error: {err}')
    gen = torch.Generator().manual_seed(args.seed)
    ids = torch.randperm(len(dataset), generator=gen)[: args.num_queries].tolist()
    g1, z1 = encode_online(model, dataset, ids)
    queue_g, queue_z = model.memory.bank('g'), model.memory.bank('z')
    scores = dict(g=F.normalize(g1, dim=1) @ queue_g.float().t(), z=z1 @ queue_z.float().t())
    k = model.head.topk
    top = model.head.labeler(scores['g'], k)  # the pseudo-positives, as training picks them

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, (name, title) in zip(
        axes, (('g', 'backbone: g1 Q_g^T'), ('z', 'projection: z1 Q_z^T'))
    ):
        every, positives = scores[name].flatten(), scores[name].gather(1, top).flatten()
        bins = torch.linspace(float(every.min()), float(every.max()), 60).tolist()
        ax.hist(every.tolist(), bins=bins, density=True, alpha=0.6, label='all queue entries')
        ax.hist(positives.tolist(), bins=bins, density=True, alpha=0.6, label=f'top-{k} by g')
        ax.set_title(title, fontsize=9)
        ax.set_xlabel('cosine similarity')
        ax.set_ylabel('density')
        print(
            f'{title}: mean {float(every.mean()):.3f} over all entries, '
            f'{float(positives.mean()):.3f} over the top-{k} by g'
        )
    axes[0].legend(fontsize=8)
    fig.suptitle(f'{len(ids)} queries against the {len(queue_g)}-entry queue', fontsize=9)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
