"""Draw sampled queries and their top-k pseudo-positives from the queue (the paper's Fig. 4).

Usage:
    python tools/analysis/visualize_pseudo_labels.py CONFIG CHECKPOINT --out-dir DIR \\
        [--ann-file F --data-prefix P] [--num-queries 6] [--topk K] [--queue-size N] [--seed 0]

Writes ``DIR/pseudo_labels.png``: one row per sampled query, first the query
image (titled with its categories), then its ``k`` pseudo-positives, each
titled with its cosine score and framed green when it shares at least one
category with the query, red when it shares none. Prints the precision of the
shown pseudo-positives (the share framed green).

A saved queue does not say which image each slot holds, so the script fills a
fresh one from the checkpoint: ``--queue-size`` images of the labelled dataset
encoded by the momentum encoder (``g2``), as in training. Each query is
encoded by the online backbone (``g1``) and its entries are the queue's
highest cosines ``g1 Q_g^T``, its own image left out. The images come from
the config's training COCO json, or from ``--ann-file``/``--data-prefix``.

Examples:
    python tools/analysis/visualize_pseudo_labels.py CONFIG CHECKPOINT --out-dir work_dirs/figs
    python tools/analysis/visualize_pseudo_labels.py CONFIG CKPT --out-dir figs --num-queries 8 \\
        --ann-file data/coco/annotations/instances_val2017.json --data-prefix data/coco/val2017/
"""

import argparse
import os
import os.path as osp
import sys

import matplotlib
import torch
from PIL import Image

import mls_plugin  # noqa: F401  (registers the components)
from mls_plugin.analysis import (
    encode_key,
    encode_online,
    load_mls_with_images,
    multi_hot,
    rank_queue,
)

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

MAX_DEFAULT_TOPK = 8  # more columns than this make the thumbnails too small to read


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the pretraining config')
    parser.add_argument('checkpoint', help='an MLS checkpoint of that config')
    parser.add_argument('--out-dir', required=True, help='writes pseudo_labels.png here')
    parser.add_argument('--ann-file', help="COCO json of the images (default: the config's)")
    parser.add_argument('--data-prefix', help='image folder of --ann-file')
    parser.add_argument('--num-queries', type=int, default=6, help='rows of the grid')
    parser.add_argument(
        '--topk',
        type=int,
        help=f'entries per query (default: head.topk, at most {MAX_DEFAULT_TOPK})',
    )
    parser.add_argument('--queue-size', type=int, help='default: min(memory.length, images)')
    parser.add_argument('--seed', type=int, default=0, help='draws the queue and the queries')
    return parser.parse_args()


def thumbnail(path: str, size: int = 128) -> Image.Image:
    """The image at ``path``, RGB, shrunk to fit ``size`` x ``size``."""
    image = Image.open(path).convert('RGB')
    image.thumbnail((size, size))
    return image


def main() -> None:
    args = parse_args()
    try:
        cfg, model, dataset = load_mls_with_images(
            args.config, args.checkpoint, args.ann_file, args.data_prefix
        )
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f'error: {err}')
    classes = dataset.metainfo['classes']
    topk = args.topk if args.topk is not None else min(model.head.topk, MAX_DEFAULT_TOPK)
    queue_size = args.queue_size if args.queue_size is not None else model.memory.length
    queue_size = min(queue_size, len(dataset))
    if topk < 1 or queue_size <= topk:
        sys.exit(f'error: need 1 <= --topk ({topk}) < queue size ({queue_size})')

    gen = torch.Generator().manual_seed(args.seed)
    queue_ids = torch.randperm(len(dataset), generator=gen)[:queue_size]
    query_ids = torch.randperm(len(dataset), generator=gen)[: args.num_queries]
    queue, _ = encode_key(model, dataset, queue_ids.tolist())
    queries, _ = encode_online(model, dataset, query_ids.tolist())
    top_scores, top_slots = rank_queue(queries, queue, topk, query_ids, queue_ids)
    query_labels = multi_hot(dataset, query_ids.tolist())
    entry_labels = multi_hot(dataset, queue_ids[top_slots].flatten().tolist())
    shares = (entry_labels.view(len(query_ids), topk, -1) * query_labels[:, None]).sum(-1) > 0

    fig, axes = plt.subplots(
        len(query_ids), topk + 1, figsize=(1.7 * (topk + 1), 1.9 * len(query_ids)), squeeze=False
    )
    for row, query in enumerate(query_ids.tolist()):
        info = dataset.get_data_info(query)
        axes[row][0].imshow(thumbnail(info['img_path']))
        names = ', '.join(classes[c] for c in info['gt_label'][:3]) or 'no object'
        axes[row][0].set_title(f'query\n{names}', fontsize=7)
        for col in range(topk):
            ax = axes[row][col + 1]
            entry = int(queue_ids[top_slots[row, col]])
            ax.imshow(thumbnail(dataset.get_data_info(entry)['img_path']))
            ax.set_title(f'{float(top_scores[row, col]):.2f}', fontsize=7)
            for spine in ax.spines.values():
                spine.set_edgecolor('tab:green' if shares[row, col] else 'tab:red')
                spine.set_linewidth(3)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(
        f'top-{topk} pseudo-positives among {queue_size} queue entries (green: shares a category)',
        fontsize=9,
    )
    fig.tight_layout()
    os.makedirs(args.out_dir, exist_ok=True)
    out = osp.join(args.out_dir, 'pseudo_labels.png')
    fig.savefig(out, dpi=100)
    print(f'wrote {out}')
    print(
        f'precision of the shown pseudo-positives: {shares.float().mean():.3f} '
        f'({int(shares.sum())} of {shares.numel()} share a category with their query)'
    )


if __name__ == '__main__':
    main()
