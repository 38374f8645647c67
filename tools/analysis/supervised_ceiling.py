"""How far the labels themselves take a pretraining config's backbone in its own budget.

A self-supervised run that gains little kNN mAP is either a method that learns little or a
setting where the categories are hard to learn at all in that many steps. This script tells the
two apart: it trains the config's backbone (same initialisation, input size and batch) with
the category labels (multi-label BCE through a linear layer on the pooled feature), and
reports the kNN mAP of the pooled feature, measured as the config's ``KNNMultiLabelHook``
measures it (same bank, queries, k and categories). Its step-0 value is the hook's. Beside it,
the precision of the pseudo-labels those features would give (each training image's ``k``
nearest other training images, ``k`` the config's ``head.topk``, sharing at least one category
with it, as ``compare_pretraining.py`` scores a pretrained checkpoint) and that precision for
random images: what the labels make of the second measure of the demo in the same budget.

Training images are the bank's (one resized centre view each), with random horizontal flips;
the optimiser is the config's (``--optimizer config``) or Adam(W), the schedule cosine over
``--steps``.

    python tools/analysis/supervised_ceiling.py \
        configs/mls/small_scale/mls_resnet18_1xb32-coslr-20e_demo-scenes-48px.py \
        --optimizer config \
        --out work_dirs/ceiling_sgd.json
"""

import argparse
import json
import math
import time

import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner

import mls_plugin  # noqa: F401  (registers the components)
from mls_plugin.analysis import build_model, rank_queue
from mls_plugin.evaluation import (
    encode_batches,
    evaluated_classes,
    extract_features,
    knn_multilabel_scores,
    multilabel_map,
    pool_backbone,
    pseudo_label_counts,
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a pretraining config with knn_(val_)dataloader')
    parser.add_argument('--steps', type=int, default=None, help="default: the config's steps")
    parser.add_argument(
        '--optimizer',
        choices=['config', 'adamw'],
        default='config',
        help="the config's optim_wrapper, or AdamW (--lr, weight decay 1e-4)",
    )
    parser.add_argument('--lr', type=float, default=1e-3, help='AdamW only')
    parser.add_argument('--evals', type=int, default=6, help='kNN measurements after step 0')
    parser.add_argument('--out', help='write the curve as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def config_steps(cfg: Config, num_images: int) -> int:
    """The pretraining run's iterations: epochs x (images // batch), drop_last."""
    return cfg.train_cfg.max_epochs * (num_images // cfg.train_dataloader.batch_size)


def knn_measure(cfg: Config, config_path: str) -> dict:
    """What the config's ``KNNMultiLabelHook`` measures: its bank and query dataloaders and the
    arguments that shape the mAP (the ``knn_dataloader`` / ``knn_val_dataloader`` keys and the
    hook's defaults when the config has no such hook)."""
    hook = next((h for h in cfg.get('custom_hooks', []) if h['type'] == 'KNNMultiLabelHook'), {})
    loaders = dict(
        bank=hook.get('bank_dataloader', cfg.get('knn_dataloader')),
        queries=hook.get('query_dataloader', cfg.get('knn_val_dataloader')),
    )
    if None in loaders.values():
        raise KeyError(
            f'{config_path}: needs a KNNMultiLabelHook or `knn_dataloader` and '
            '`knn_val_dataloader` (the kNN bank and queries)'
        )
    return dict(
        loaders,
        k=hook.get('k', 20),
        temperature=hook.get('temperature', 0.07),
        min_positives=hook.get('min_positives', 1),
        exclude_classes=hook.get('exclude_classes', ()),
    )


def measure(model, bank, queries, settings: dict, topk: int) -> dict:
    """kNN mAP of the pooled feature over the categories the hook evaluates, and the
    precision of the bank images' ``topk`` nearest other bank images (and of random ones)."""
    classes = list(bank.dataset.metainfo['classes'])
    bank_feats, bank_labels = extract_features(model, bank, len(classes))
    query_feats, query_labels = extract_features(model, queries, len(classes))
    mask = evaluated_classes(
        [bank_labels, query_labels],
        settings['min_positives'],
        [classes.index(name) for name in settings['exclude_classes']],
        classes,
    )
    scores = knn_multilabel_scores(
        bank_feats, bank_labels, query_feats, k=settings['k'], temperature=settings['temperature']
    )
    # Every category but the excluded ones counts as shared, as in PseudoLabelPrecisionHook.
    shared = bank_labels.clone()
    shared[:, [classes.index(name) for name in settings['exclude_classes']]] = 0
    ids = torch.arange(len(bank_feats))
    _, slots = rank_queue(bank_feats, bank_feats, topk, ids, ids)  # own image left out
    counts = pseudo_label_counts(shared, ids, ids, slots)
    return dict(
        knn_map=multilabel_map(scores[:, mask], query_labels[:, mask]),
        pl_precision=counts.precision,
        pl_precision_random=counts.random_precision,
    )


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    settings = knn_measure(cfg, args.config)
    model = build_model(cfg)  # the config's seeded initialisation, as the study's untrained row
    bank = Runner.build_dataloader(settings['bank'], seed=0)
    queries = Runner.build_dataloader(settings['queries'], seed=0)
    num_classes = len(bank.dataset.metainfo['classes'])

    # The bank's images once, preprocessed as in training, with their multi-hot labels.
    images, labels = [], []
    for inputs, samples in encode_batches(model, bank, lambda x: x):
        images.append(inputs)
        for sample in samples:
            label = torch.zeros(num_classes)
            label[sample.gt_label.long()] = 1.0
            labels.append(label)
    images, labels = torch.cat(images), torch.stack(labels)

    steps = args.steps or config_steps(cfg, len(images))
    batch = cfg.train_dataloader.batch_size
    with torch.no_grad():
        feat_dim = model.backbone(images[:2])[-1].shape[1]
    head = torch.nn.Linear(feat_dim, num_classes)
    params = torch.nn.ModuleDict(dict(backbone=model.backbone, head=head))
    if args.optimizer == 'config':
        optimizer = build_optim_wrapper(params, cfg.optim_wrapper).optimizer
    else:
        optimizer = torch.optim.AdamW(params.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)

    topk = cfg.model.head.get('topk', 20)
    every = max(1, steps // args.evals)
    curve = [dict(step=0, **measure(model, bank, queries, settings, topk))]
    print(
        f'step 0: kNN mAP {curve[0]["knn_map"]:.2f}, pseudo-label precision '
        f'{curve[0]["pl_precision"]:.3f} (random {curve[0]["pl_precision_random"]:.3f})',
        flush=True,
    )
    generator = torch.Generator().manual_seed(cfg.get('randomness', {}).get('seed') or 0)
    model.train()
    start, losses = time.time(), []
    for step in range(1, steps + 1):
        idx = torch.randint(len(images), (batch,), generator=generator)
        x = images[idx]
        flip = torch.rand(batch, generator=generator) < 0.5
        x[flip] = x[flip].flip(3)
        g = pool_backbone(model.backbone, x)
        loss = F.binary_cross_entropy_with_logits(head(g), labels[idx])
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f'supervised_ceiling: loss {loss.item()} at step {step}')
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if step % every == 0 or step == steps:
            point = dict(
                step=step,
                loss=sum(losses[-every:]) / len(losses[-every:]),
                **measure(model, bank, queries, settings, topk),
                seconds=time.time() - start,
            )
            curve.append(point)
            print(
                f'step {step}: loss {point["loss"]:.4f} kNN mAP {point["knn_map"]:.2f} '
                f'pseudo-label precision {point["pl_precision"]:.3f} ({point["seconds"]:.0f} s)',
                flush=True,
            )
    result = dict(
        config=args.config,
        optimizer=args.optimizer,
        steps=steps,
        batch_size=batch,
        topk=topk,
        curve=curve,
    )
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == '__main__':
    main()
