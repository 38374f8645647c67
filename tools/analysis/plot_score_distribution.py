"""Plot the distributions of the backbone and projection scores at a checkpoint (Fig. 3).

Sampled images of the labelled dataset (one centre view each) are encoded by
the online encoder into ``g1`` (L2-normalised) and ``z1``, and scored against
the checkpoint's own queue: ``g1 Q_g^T`` (what the pseudo-labels rank) and
``z1 Q_z^T`` (the InfoNCE negatives and BCE logits, before ``/ tau``). Each
panel shows the density of all (query, entry) scores and that of each query's
top-k entries by ``g`` (its pseudo-positives); the means are printed.

Examples:
    python tools/analysis/plot_score_distribution.py CONFIG CHECKPOINT --out scores.png
"""

import argparse
import os
import os.path as osp

import matplotlib
import torch
import torch.nn.functional as F

import mls_plugin  # noqa: F401  (registers the components)
from mls_plugin.analysis import build_labelled_dataset, encode_images, load_pretrained_model

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the pretraining config')
    parser.add_argument('checkpoint', help='an MLS checkpoint of that config')
    parser.add_argument('--out', required=True, help='PNG file to write')
    parser.add_argument('--ann-file', help="COCO json of the images (default: the config's)")
    parser.add_argument('--data-prefix', help='image folder of --ann-file')
    parser.add_argument('--num-queries', type=int, default=256)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


@torch.no_grad()
def main() -> None:
    args = parse_args()
    cfg, model = load_pretrained_model(args.config, args.checkpoint)
    if not hasattr(model, 'memory') or set(model.memory.names) != {'g', 'z'}:
        raise SystemExit(f'{args.checkpoint}: not an MLS model with queue banks g and z')
    dataset = build_labelled_dataset(cfg, args.ann_file, args.data_prefix)
    gen = torch.Generator().manual_seed(args.seed)
    ids = torch.randperm(len(dataset), generator=gen)[: args.num_queries].tolist()
    g = encode_images(model, dataset, ids, normalize=False)  # the neck takes g unnormalised
    g1, z1 = F.normalize(g, dim=1), F.normalize(model.neck((g,))[0], dim=1)
    scores = dict(
        g=g1 @ model.memory.bank('g').float().t(), z=z1 @ model.memory.bank('z').float().t()
    )
    top = scores['g'].topk(model.head.topk, dim=1).indices

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, (name, title) in zip(
        axes, (('g', 'backbone: g1 Q_g^T'), ('z', 'projection: z1 Q_z^T'))
    ):
        every, positives = scores[name].flatten(), scores[name].gather(1, top).flatten()
        bins = torch.linspace(float(every.min()), float(every.max()), 60).tolist()
        ax.hist(every.tolist(), bins=bins, density=True, alpha=0.6, label='all queue entries')
        ax.hist(positives.tolist(), bins=bins, density=True, alpha=0.6, label=f'top-{top.shape[1]}')
        ax.set_title(title, fontsize=9)
        ax.set_xlabel('cosine similarity')
        print(
            f'{title}: mean {float(every.mean()):.3f} over all entries, '
            f'{float(positives.mean()):.3f} over the top-{top.shape[1]} by g'
        )
    axes[0].legend(fontsize=8)
    fig.suptitle(f'{len(ids)} queries against the {scores["g"].shape[1]}-entry queue', fontsize=9)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
