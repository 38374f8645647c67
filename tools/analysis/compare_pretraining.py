"""MLS vs InfoNCE only vs mmpretrain's MoCo at equal compute and seeds, on CPU.

Pretrains the three methods from the same config (the demo config: ResNet-18,
96 px, the same augmentations, batch, queue length, optimizer, schedule, EMA
momentum and seed), then scores each final checkpoint's frozen online backbone
on labelled splits the objective never saw the labels of:

- kNN mAP: cosine kNN multi-label mAP, bank = the pretraining images,
  queries = the held-out split (:func:`mls_plugin.evaluation.knn_multilabel_scores`);
- linear-probe mAP: a linear multi-label classifier on the frozen features of
  the pretraining images, evaluated on the held-out split;
- pseudo-label precision: each pretraining image's ``k`` nearest other
  pretraining images in backbone space (online encoder against the momentum
  encoder, as MLS ranks its queue) that share a category with it, beside the
  share for random images. Computed the same way for the three methods, so
  MoCo (which has no ``Q_g``) is scored too; the precision the MLS runs
  measured during training (``PseudoLabelPrecisionHook``) is reported as well.

Writes ``OUT_DIR/results.json``, the curves of each dataset
(``tools/analysis/plot_training_curves.py``) and a markdown table.

Examples:
    python tools/analysis/compare_pretraining.py --out-dir work_dirs/comparison \\
        --markdown docs/comparison_results.md --figures-dir docs/figures
    python tools/analysis/compare_pretraining.py --datasets coco_tiny --methods mls moco
"""

import argparse
import copy
import json
import os
import os.path as osp
import subprocess
import sys
import time
from statistics import mean
from typing import Dict, List, Optional

import torch
from mmengine.config import Config
from mmengine.runner import Runner

import mls_plugin  # noqa: F401  (registers the components)

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from summarize_run import read_series  # noqa: E402

from mls_plugin.analysis import build_model, momentum_backbone, rank_queue
from mls_plugin.evaluation import (
    extract_features,
    fit_linear_probe,
    knn_multilabel_scores,
    multilabel_map,
    pseudo_label_counts,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join(REPO, 'configs/mls/mls_resnet18_1xb32-coslr-50e_demo-scenes_monitors.py')
METHODS = ('mls', 'infonce', 'moco', 'random_init')
METHOD_NAMES = dict(
    mls='MLS',
    infonce='InfoNCE only (MLS, BCE off)',
    moco='MoCo (mmpretrain)',
    random_init='no pretraining (random init)',
)


def dataset_settings(name: str, coco_tiny: str) -> dict:
    """Data and the few schedule keys that depend on the dataset's size."""
    if name == 'demo':
        root = osp.join(REPO, 'data/demo_scenes')
        return dict(
            root=root,
            train=('annotations/instances_train.json', 'images/train/'),
            heldout=('annotations/instances_val.json', 'images/val/'),
            overrides={},  # the demo config as `make demo` runs it
        )
    if name == 'coco_tiny':
        # 80 pretraining images: batch 16 gives 5 steps an epoch; a queue of 64 (< 80) holds
        # no image twice, and k = 5 keeps k / D close to the 20 / 4096 scale of a few per cent.
        return dict(
            root=coco_tiny,
            train=('annotations/instances_train2017.json', 'images/train2017/'),
            heldout=('annotations/instances_val2017.json', 'images/val2017/'),
            overrides=dict(batch_size=16, queue=64, topk=5, epochs=100, knn_interval=10),
        )
    raise ValueError(f'unknown dataset {name!r}; choose demo or coco_tiny')


def labelled_loader(base: dict, root: str, split: tuple) -> dict:
    loader = copy.deepcopy(base)
    loader['dataset'].update(data_root=root + '/', ann_file=split[0], data_prefix=split[1])
    return loader


def method_config(method: str, data: dict, seed: int, epochs: Optional[int] = None) -> Config:
    """The demo config, pointed at ``data``, for one of the three methods."""
    cfg = Config.fromfile(DEMO_CONFIG)
    over = data['overrides']
    epochs = epochs or over.get('epochs', cfg.train_cfg.max_epochs)
    cfg.train_cfg.max_epochs = epochs
    cfg.param_scheduler[0].update(T_max=epochs, end=epochs)
    batch = over.get('batch_size', cfg.train_dataloader.batch_size)
    cfg.train_dataloader.batch_size = batch
    cfg.optim_wrapper.optimizer.lr = 0.3 * batch / 256
    cfg.train_dataloader.dataset.update(
        data_root=data['root'] + '/', ann_file=data['train'][0], data_prefix=data['train'][1]
    )
    queue = over.get('queue', cfg.model.memory.length)
    cfg.model.memory.length = queue
    cfg.model.head.topk = over.get('topk', cfg.model.head.topk)
    cfg.randomness = dict(seed=seed)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=epochs, max_keep_ckpts=1)

    bank = labelled_loader(cfg.knn_dataloader, data['root'], data['train'])
    query = labelled_loader(cfg.knn_dataloader, data['root'], data['heldout'])
    hooks = [h for h in cfg.custom_hooks if h['type'] in ('RandomStateHook', 'SkippedImagesHook')]
    hooks.append(
        dict(
            type='KNNMultiLabelHook',
            bank_dataloader=bank,
            query_dataloader=query,
            interval=min(over.get('knn_interval', 5), epochs),
        )
    )
    if method in ('mls', 'infonce'):
        hooks.append(dict(type='PseudoLabelPrecisionHook', interval=10))
    cfg.custom_hooks = hooks

    if method == 'infonce':
        cfg.model.head.loss_ml = None
    elif method == 'moco':
        mls = cfg.model
        cfg.model = dict(
            type='MoCo',
            queue_len=queue,
            feat_dim=mls.neck.out_channels,
            momentum=mls.momentum,  # the same EMA convention as MLS
            backbone=mls.backbone,
            neck=dict(mls.neck, with_avg_pool=True),
            head=dict(
                type='ContrastiveHead',
                loss=dict(type='CrossEntropyLoss'),
                temperature=mls.head.temperature,
            ),
        )
    cfg.comparison = dict(bank=bank, query=query, topk=cfg.model.get('head', {}).get('topk'))
    return cfg


def pretrain(cfg: Config, work_dir: str) -> float:
    """Run tools/train.py on ``cfg``; return its wall time in seconds."""
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, 'config.py')
    cfg.dump(path)
    start = time.time()
    cmd = [sys.executable, osp.join(REPO, 'tools/train.py'), path, '--work-dir', work_dir]
    with open(osp.join(work_dir, 'train.out'), 'w') as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    return time.time() - start


def training_scalars(work_dir: str) -> Dict[str, float]:
    """The run's final kNN mAP and its mean pseudo-label precision over the last 5 measurements."""
    _, series = read_series(work_dir)
    values = {}
    if 'knn_mAP' in series:
        values['train_knn_map'] = series['knn_mAP'][-1][1]
    for key in ('pl_precision', 'pl_precision_random'):
        if key in series:
            values[f'train_{key}'] = mean(v for _, v in series[key][-5:])
    return values


@torch.no_grad()
def evaluate(cfg: Config, checkpoint: Optional[str], topk: int) -> Dict[str, float]:
    """kNN mAP, linear-probe mAP and pseudo-label precision of a checkpoint.

    Without a checkpoint, of the model's initialisation (seeded), the level
    that pretraining has to beat.
    """
    model = build_model(cfg, checkpoint)
    bank_loader = Runner.build_dataloader(cfg.comparison.bank, seed=0)
    query_loader = Runner.build_dataloader(cfg.comparison.query, seed=0)
    num_classes = len(bank_loader.dataset.metainfo['classes'])
    bank_feats, bank_labels = extract_features(model, bank_loader, num_classes)
    query_feats, query_labels = extract_features(model, query_loader, num_classes)

    knn = multilabel_map(knn_multilabel_scores(bank_feats, bank_labels, query_feats), query_labels)
    with torch.enable_grad():
        probe = fit_linear_probe(bank_feats, bank_labels)
    linear = multilabel_map(probe(query_feats), query_labels)

    # Pseudo-labels as MLS ranks them: online features against momentum-encoder features.
    key_feats, _ = extract_features(
        model, bank_loader, num_classes, backbone=momentum_backbone(model)
    )
    ids = torch.arange(len(bank_feats))
    # Another view of the query's own image is not a find: rank_queue leaves it out.
    _, slots = rank_queue(bank_feats, key_feats, topk, ids, ids)
    counts = pseudo_label_counts(bank_labels, ids, ids, slots)
    return dict(
        knn_map=knn,
        linear_map=linear,
        pl_precision=counts.precision,
        pl_precision_random=counts.random_precision,
    )


def markdown_table(results: List[dict]) -> str:
    rows = [
        '| data | method | kNN mAP | linear-probe mAP | pseudo-label precision (random) '
        '| precision during training, last 5 (random) | pretraining time |',
        '| --- | --- | --- | --- | --- | --- | --- |',
    ]
    for r in results:
        if 'train_pl_precision' in r:
            during = f'{r["train_pl_precision"]:.3f} ({r["train_pl_precision_random"]:.3f})'
        else:
            during = 'n/a (no Q_g)' if r['method'] == 'moco' else 'n/a'
        rows.append(
            f'| {r["dataset"]} | {METHOD_NAMES[r["method"]]} | {r["knn_map"]:.2f} '
            f'| {r["linear_map"]:.2f} | {r["pl_precision"]:.3f} ({r["pl_precision_random"]:.3f}) '
            f'| {during} | {r["train_seconds"]:.0f} s |'.replace('| 0 s |', '| - |')
        )
    return '\n'.join(rows) + '\n'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out-dir', default='work_dirs/comparison')
    parser.add_argument('--datasets', nargs='+', default=['demo', 'coco_tiny'])
    parser.add_argument('--methods', nargs='+', default=list(METHODS), choices=METHODS)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--epochs',
        type=int,
        help='pretraining epochs of every run (default: 50 demo, 100 coco_tiny)',
    )
    parser.add_argument(
        '--coco-tiny',
        default=osp.join(osp.dirname(REPO), 'shared/data/coco_tiny'),
        help='the coco_tiny folder (annotations/, images/)',
    )
    parser.add_argument('--markdown', help='also write the results table to this file')
    parser.add_argument('--figures-dir', help='write the curves here (default: OUT_DIR)')
    parser.add_argument(
        '--skip-training', action='store_true', help='evaluate the runs already in OUT_DIR'
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if 'demo' in args.datasets and not osp.isdir(osp.join(REPO, 'data/demo_scenes')):
        subprocess.run(
            [sys.executable, osp.join(REPO, 'tools/generate_demo_scenes.py')], check=True, cwd=REPO
        )
    results = []
    for dataset in args.datasets:
        data = dataset_settings(dataset, args.coco_tiny)
        if not osp.isdir(data['root']):
            raise FileNotFoundError(f'{dataset}: data folder not found: {data["root"]}')
        run_dirs = []
        for method in args.methods:
            if method == 'random_init':
                cfg = method_config('mls', data, args.seed, args.epochs)
                result = dict(dataset=dataset, method=method, topk=cfg.model.head.topk)
                result.update(evaluate(cfg, None, cfg.model.head.topk), train_seconds=0.0)
                print(json.dumps(result), flush=True)
                results.append(result)
                continue
            cfg = method_config(method, data, args.seed, args.epochs)
            work_dir = osp.abspath(osp.join(args.out_dir, dataset, method))
            run_dirs.append((work_dir, METHOD_NAMES[method]))
            timing_file = osp.join(work_dir, 'train_seconds.txt')
            if not args.skip_training:
                print(f'[{dataset}] pretraining {METHOD_NAMES[method]} -> {work_dir}', flush=True)
                with open_new(timing_file) as f:
                    f.write(f'{pretrain(cfg, work_dir):.1f}\n')
            checkpoint = osp.join(work_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth')
            topk = cfg.comparison.topk or dataset_topk(data)
            result = dict(dataset=dataset, method=method, topk=topk)
            result.update(evaluate(cfg, checkpoint, topk))
            with open(timing_file) as f:
                result['train_seconds'] = float(f.read())
            result.update(training_scalars(work_dir))
            print(json.dumps(result), flush=True)
            results.append(result)
        if not run_dirs:
            continue
        figures = args.figures_dir or args.out_dir
        os.makedirs(figures, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                osp.join(REPO, 'tools/analysis/plot_training_curves.py'),
                *[run for run, _ in run_dirs],
                '--labels',
                *[label for _, label in run_dirs],
                '--out',
                osp.join(figures, f'comparison_{dataset}_curves.png'),
            ],
            check=True,
        )
    with open(osp.join(args.out_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)
    table = markdown_table(results)
    print(table)
    if args.markdown:
        with open(args.markdown, 'w') as f:
            f.write(table)


def dataset_topk(data: dict) -> int:
    """MoCo has no ``topk``: rank with the k of the MLS runs on the same data."""
    return data['overrides'].get('topk', Config.fromfile(DEMO_CONFIG).model.head.topk)


def open_new(path: str):
    os.makedirs(osp.dirname(path), exist_ok=True)
    return open(path, 'w')


if __name__ == '__main__':
    main()
