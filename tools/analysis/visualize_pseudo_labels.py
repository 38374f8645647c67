"""Draw sampled queries and their top-k pseudo-positives from the queue (the paper's Fig. 4).

A saved queue does not say which image each slot holds, so the script fills a
fresh one from the checkpoint: ``--queue-size`` images of the labelled dataset
encoded by the momentum encoder (``g2``), as in training. Each sampled query is
encoded by the online backbone (``g1``) and its ``k`` most similar queue
entries (cosine of ``g1 Q_g^T``, its own image left out) are drawn after it,
with their score; a green frame marks an entry that shares at least one
category with the query, a red one an entry that shares none.

Examples:
    python tools/analysis/visualize_pseudo_labels.py CONFIG CHECKPOINT --out-dir work_dirs/figs
    python tools/analysis/visualize_pseudo_labels.py CONFIG CKPT --out-dir figs --num-queries 8 \\
        --ann-file data/coco/annotations/instances_val2017.json --data-prefix data/coco/val2017/
"""

import argparse
import os
import os.path as osp

import matplotlib
import torch
from PIL import Image

import mls_plugin  # noqa: F401  (registers the components)
from mls_plugin.analysis import (
    build_labelled_dataset,
    encode_images,
    load_pretrained_model,
    momentum_backbone,
    multi_hot,
)

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the pretraining config')
    parser.add_argument('checkpoint', help='an MLS checkpoint of that config')
    parser.add_argument('--out-dir', required=True, help='writes pseudo_labels.png here')
    parser.add_argument('--ann-file', help="COCO json of the images (default: the config's)")
    parser.add_argument('--data-prefix', help='image folder of --ann-file')
    parser.add_argument('--num-queries', type=int, default=6)
    parser.add_argument('--topk', type=int, help='entries per query (default: head.topk, max 8)')
    parser.add_argument('--queue-size', type=int, help='default: min(memory.length, images)')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def thumbnail(path: str, size: int = 128) -> Image.Image:
    image = Image.open(path).convert('RGB')
    image.thumbnail((size, size))
    return image


def main() -> None:
    args = parse_args()
    cfg, model = load_pretrained_model(args.config, args.checkpoint)
    dataset = build_labelled_dataset(cfg, args.ann_file, args.data_prefix)
    classes = dataset.metainfo['classes']
    topk = args.topk or min(getattr(model.head, 'topk', 8), 8)
    queue_size = min(args.queue_size or getattr(model.memory, 'length', len(dataset)), len(dataset))
    if queue_size <= topk:
        raise SystemExit(f'--queue-size ({queue_size}) must exceed --topk ({topk})')

    gen = torch.Generator().manual_seed(args.seed)
    queue_ids = torch.randperm(len(dataset), generator=gen)[:queue_size]
    query_ids = torch.randperm(len(dataset), generator=gen)[: args.num_queries]
    queue = encode_images(model, dataset, queue_ids.tolist(), backbone=momentum_backbone(model))
    queries = encode_images(model, dataset, query_ids.tolist())
    scores = queries @ queue.t()
    scores[query_ids[:, None] == queue_ids[None, :]] = float('-inf')  # not its own image
    top_scores, top_slots = scores.topk(topk, dim=1)
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
