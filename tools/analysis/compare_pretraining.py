"""MLS vs InfoNCE only vs mmpretrain's MoCo over seeds, at equal compute, on CPU.

Every method is pretrained from one dataset config (``DATASETS``: same
backbone, views, batch, queue, optimizer, schedule, EMA momentum and seed);
only the loss differs:

- ``mls``: the config as it is (InfoNCE + lambda x BCE);
- ``infonce``: the same ``MLS`` with ``head.loss_ml=None``, i.e. MoCo-v2;
- ``random_positives``: MLS with ``k`` random queue entries as each query's positives
  (``RandomLabeler``): the BCE's number of positives without their choice;
- ``no_positives``: MLS with no positives (``NoPositivesLabeler``, y = 0): the BCE's push
  away from the queue alone;
- ``oracle_positives``: MLS whose positives are the top-``k`` among the queue entries that
  share a ground-truth category with the query, at most ``k`` (``OraclePseudoLabelHook``;
  a diagnosis, the labels reach the loss);
- ``moco``: mmpretrain's ``MoCo`` with the same sizes, a check of the baseline;
- ``random_init``: no pretraining, the seeded initialisation to beat.

Each final checkpoint's frozen online backbone is scored on labels the
objective never saw, over the categories with at least ``--min-positives``
positives in train and val (``person`` left out of coco_scenes):

- ``knn_map``: cosine kNN multi-label mAP, bank = train, queries = val;
- ``linear_map``: a linear multi-label probe fitted on train, mAP on val;
- ``pl_precision``: each train image's ``k`` nearest other train images
  (online against momentum features, as MLS ranks its queue) that share a
  category with it, beside ``pl_precision_random`` for random images;
- ``select_knn_map``: kNN mAP inside train (a fixed 3:1 split), the number
  to choose settings by, so that val is only reported;
- from the training log: the first and last ``loss_nce`` and ``loss_ml``,
  the projection's health scalars and the pseudo-label precision measured
  against the real queue.

Each run writes ``OUT/<dataset>/<variant>/seed<k>/result.json`` when it ends
and is skipped when that file exists, so a study can be finished across
sessions. ``--markdown`` writes mean +- std and every seed.

Examples:
    python tools/analysis/compare_pretraining.py --datasets coco_scenes \\
        --methods mls infonce random_init --seeds 0 1 2 --out-dir work_dirs/comparison
    python tools/analysis/compare_pretraining.py --datasets coco_scenes --methods mls \\
        --bce-warmup 10 10 --tag mls_warmup10 --seeds 0
"""

import argparse
import copy
import json
import math
import os
import os.path as osp
import subprocess
import sys
import time
from statistics import mean, stdev
from typing import Dict, List, Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import mls_plugin  # noqa: F401  (registers the components)

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from paired_differences import load as load_results  # noqa: E402
from summarize_run import read_series  # noqa: E402

from mls_plugin.analysis import build_model, momentum_backbone, rank_queue
from mls_plugin.benchmarks.linear_probe import fit_linear_probe
from mls_plugin.evaluation import (
    evaluated_classes,
    extract_features,
    knn_multilabel_scores,
    multilabel_map,
    pseudo_label_counts,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATASETS = dict(
    coco_scenes='configs/mls/small_scale/mls_resnet18_1xb32-coslr-40e_coco-scenes-64px.py',
    voc_animals='configs/mls/small_scale/mls_resnet18_1xb32-coslr-40e_voc-animals-64px.py',
    demo_scenes='configs/mls/small_scale/mls_resnet18_1xb32-coslr-20e_demo-scenes-48px.py',
)
# Generated into the repo by tools/generate_demo_scenes.py (`make demo`), not in --data-root.
GENERATED = ('demo_scenes',)
METHODS = (
    'mls',
    'infonce',
    'random_positives',
    'no_positives',
    'oracle_positives',
    'moco',
    'random_init',
)
# MLS with another pseudo-labeler: the head's `labeler` config of each.
LABELERS = dict(
    random_positives=dict(type='RandomLabeler'),
    no_positives=dict(type='NoPositivesLabeler'),
    oracle_positives=dict(type='OracleLabeler'),  # from the lab, fed by OraclePseudoLabelHook
)
METHOD_NAMES = dict(
    mls='MLS',
    infonce='InfoNCE only (MLS, BCE off)',
    random_positives='MLS with k random positives',
    no_positives='MLS with no positives (the BCE push alone)',
    oracle_positives='MLS with oracle positives (sharing a category, at most k)',
    moco='MoCo (mmpretrain)',
    random_init='no pretraining (random init)',
)
HEALTH = ('z_queue_cos', 'z_mean_norm', 'queue_mean_norm', 'z_align', 'queue_erank')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out-dir', default='work_dirs/comparison')
    parser.add_argument('--datasets', nargs='+', default=['coco_scenes'], choices=list(DATASETS))
    parser.add_argument('--methods', nargs='+', default=list(METHODS), choices=METHODS)
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument(
        '--data-root',
        default=osp.join(osp.dirname(REPO), 'shared/data'),
        help='folder holding the dataset folders (coco_scenes/, voc_animals/)',
    )
    parser.add_argument(
        '--config',
        help="pretraining config for every dataset given (default: the dataset's in DATASETS), "
        'e.g. the centred-projector config',
    )
    parser.add_argument('--epochs', type=int, help='pretraining epochs (default: the config)')
    parser.add_argument(
        '--bce-warmup',
        type=int,
        nargs=2,
        metavar=('BEGIN', 'END'),
        help='every method with a BCE: InfoNCE alone before epoch BEGIN, the BCE ramped in '
        'linearly up to epoch END (BCEWarmupHook; BEGIN = END switches it on at once)',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        default={},
        help='config overrides for EVERY method (fairness: lr, schedule, D, resolution)',
    )
    parser.add_argument(
        '--mls-options',
        nargs='+',
        action=DictAction,
        default={},
        help="overrides of MLS's own knobs, every method with a BCE (e.g. model.head.topk=5)",
    )
    parser.add_argument(
        '--tag',
        help="name of MLS's variant in OUT (default: the method); with a single --methods, "
        "that method's, e.g. --methods infonce --tag infonce_splitbn4",
    )
    parser.add_argument('--min-positives', type=int, default=20)
    parser.add_argument('--knn-interval', type=int, help='epochs between kNN measurements')
    parser.add_argument('--markdown', help='write the table of every run in OUT to this file')
    parser.add_argument(
        '--report-only', action='store_true', help='only tabulate the results already in OUT'
    )
    return parser.parse_args()


def dataset_config(name: str, data_root: str, args: argparse.Namespace) -> Config:
    cfg = Config.fromfile(osp.join(REPO, args.config or DATASETS[name]))
    if name in GENERATED:
        root = osp.join(REPO, cfg.data_root)
        hint = 'generate it with tools/generate_demo_scenes.py'
    else:
        root = osp.join(data_root, osp.basename(cfg.data_root.rstrip('/'))) + '/'
        hint = 'see --data-root'
    if not osp.isdir(root):
        raise FileNotFoundError(f'{name}: data folder not found: {root} ({hint})')
    for loader in (cfg.train_dataloader, cfg.knn_dataloader, cfg.knn_val_dataloader):
        loader.dataset.data_root = root
    if args.epochs:
        cfg.train_cfg.max_epochs = args.epochs
        cfg.param_scheduler[0].update(T_max=args.epochs, end=args.epochs)
    cfg.default_hooks.checkpoint.interval = cfg.train_cfg.max_epochs
    cfg.merge_from_dict(args.cfg_options)
    for hook in cfg.custom_hooks:  # the monitors read the loaders as overridden
        if hook['type'] == 'KNNMultiLabelHook':
            hook['bank_dataloader'] = cfg.knn_dataloader
            hook['query_dataloader'] = cfg.knn_val_dataloader
            hook['min_positives'] = args.min_positives  # the curve's categories = the table's
            if args.knn_interval:
                hook['interval'] = args.knn_interval
    return cfg


def method_config(base: Config, method: str, seed: int, args: argparse.Namespace) -> Config:
    """``base`` for one method: only the loss (and its positives) differ between methods."""
    cfg = copy.deepcopy(base)
    cfg.randomness = dict(seed=seed)
    if method in ('mls', *LABELERS):
        cfg.merge_from_dict(args.mls_options)
        if args.bce_warmup:
            begin, end = args.bce_warmup
            cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'BCEWarmupHook']
            cfg.custom_hooks.append(dict(type='BCEWarmupHook', begin=begin, end=end))
        if method in LABELERS:
            cfg.model.head.labeler = LABELERS[method]
        if method == 'oracle_positives':  # the precision hook, which also feeds the labeler
            imports = cfg.get('custom_imports', {}).get('imports', [])
            cfg.custom_imports = dict(
                imports=[*imports, 'mls_plugin.analysis'], allow_failed_imports=False
            )
            for hook in cfg.custom_hooks:
                if hook['type'] == 'PseudoLabelPrecisionHook':
                    hook['type'] = 'OraclePseudoLabelHook'
            if not any(h['type'] == 'OraclePseudoLabelHook' for h in cfg.custom_hooks):
                raise ValueError(
                    'oracle_positives needs a PseudoLabelPrecisionHook in the config, whose '
                    'labels it uses'
                )
        return cfg
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'BCEWarmupHook']
    if method == 'infonce':
        cfg.model.head.loss_ml = None
    elif method == 'moco':
        mls = cfg.model
        cfg.model = dict(
            type='MoCo',
            queue_len=mls.memory.length,
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
        cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'PseudoLabelPrecisionHook']
    return cfg


def pretrain(cfg: Config, work_dir: str) -> float:
    """Run tools/train.py on ``cfg``; return its wall time in seconds."""
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, 'config.py')
    cfg.dump(path)
    start = time.time()
    cmd = [sys.executable, osp.join(REPO, 'tools/train.py'), path, '--work-dir', work_dir]
    with open(osp.join(work_dir, 'train.out'), 'w') as log:
        done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    if done.returncode:
        raise RuntimeError(f'pretraining failed ({done.returncode}); see {work_dir}/train.out')
    return time.time() - start


def training_scalars(work_dir: str) -> Dict[str, float]:
    """First and last values of the logged losses, health and pseudo-label precision."""
    _, series = read_series(work_dir)
    values = {}
    for key in ('loss_nce', 'loss_ml'):
        if key in series:
            points = [v for _, v in series[key]]
            n = max(1, len(points) // 10)
            values[f'{key}_first'] = mean(points[:n])
            values[f'{key}_last'] = mean(points[-n:])
            values[f'{key}_max_late'] = max(points[len(points) // 2 :])
    for key in HEALTH:
        if key in series:
            values[key] = mean(v for _, v in series[key][-5:])
    for key in ('pl_precision', 'pl_precision_random'):
        if key in series:
            values[f'train_{key}'] = mean(v for _, v in series[key][-5:])
    if 'knn_mAP' in series:
        values['knn_curve'] = series['knn_mAP']
    return values


@torch.no_grad()
def evaluate(
    cfg: Config, checkpoint: Optional[str], min_positives: int, topk: int
) -> Dict[str, float]:
    """Val and train-split scores of a checkpoint (of the initialisation without one).

    ``topk`` is the MLS runs' ``k``, also for MoCo, which has none.
    """
    model = build_model(cfg, checkpoint)
    train_loader = Runner.build_dataloader(cfg.knn_dataloader, seed=0)
    val_loader = Runner.build_dataloader(cfg.knn_val_dataloader, seed=0)
    classes = list(train_loader.dataset.metainfo['classes'])
    exclude = [classes.index(name) for name in cfg.get('excluded_classes', [])]
    train_feats, train_labels = extract_features(model, train_loader, len(classes))
    val_feats, val_labels = extract_features(model, val_loader, len(classes))
    mask = evaluated_classes([train_labels, val_labels], min_positives, exclude, classes)
    train_labels, val_labels = train_labels[:, mask], val_labels[:, mask]

    result = dict(num_classes=int(mask.sum()))
    scores = knn_multilabel_scores(train_feats, train_labels, val_feats)
    result['knn_map'] = multilabel_map(scores, val_labels)
    with torch.enable_grad():
        probe = fit_linear_probe(train_feats, train_labels)
    result['linear_map'] = multilabel_map(probe(val_feats), val_labels)

    # Choosing settings never looks at val: a fixed 3:1 split of train.
    order = torch.randperm(len(train_feats), generator=torch.Generator().manual_seed(0))
    bank, query = order[: len(order) * 3 // 4], order[len(order) * 3 // 4 :]
    scores = knn_multilabel_scores(train_feats[bank], train_labels[bank], train_feats[query])
    result['select_knn_map'] = multilabel_map(scores, train_labels[query])

    # Pseudo-labels as MLS ranks them: online features against momentum-encoder features.
    key_feats, _ = extract_features(
        model, train_loader, len(classes), backbone=momentum_backbone(model)
    )
    ids = torch.arange(len(train_feats))
    _, slots = rank_queue(train_feats, key_feats, topk, ids, ids)  # own image left out
    counts = pseudo_label_counts(train_labels, ids, ids, slots)
    result.update(pl_precision=counts.precision, pl_precision_random=counts.random_precision)
    return result


def run_one(dataset: str, method: str, variant: str, seed: int, base: Config, args) -> dict:
    run_dir = osp.abspath(osp.join(args.out_dir, dataset, variant, f'seed{seed}'))
    result_file = osp.join(run_dir, 'result.json')
    if osp.isfile(result_file):
        with open(result_file) as f:
            return json.load(f)
    cfg = method_config(base, method, seed, args)
    result = dict(dataset=dataset, method=method, variant=variant, seed=seed)
    topk = base.model.head.topk
    if method == 'random_init':
        result.update(evaluate(cfg, None, args.min_positives, topk), train_seconds=0.0)
    else:
        print(f'[{dataset}] pretraining {variant} seed {seed} -> {run_dir}', flush=True)
        result['train_seconds'] = pretrain(cfg, run_dir)
        checkpoint = osp.join(run_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth')
        result.update(evaluate(cfg, checkpoint, args.min_positives, topk))
        result.update(training_scalars(run_dir))
        result['uniform_nce'] = math.log(cfg.model.get('memory', {}).get('length', 0) + 1)
        result['iterations'] = cfg.train_cfg.max_epochs * (
            len(Runner.build_dataloader(cfg.train_dataloader, seed=0))
        )
    os.makedirs(run_dir, exist_ok=True)
    with open(result_file, 'w') as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k != 'knn_curve'}), flush=True)
    return result


COLUMNS = (
    ('knn_map', 'kNN mAP (val)', '{:.2f}'),
    ('linear_map', 'linear-probe mAP (val)', '{:.2f}'),
    ('select_knn_map', 'kNN mAP (train split)', '{:.2f}'),
    ('pl_precision', 'pseudo-label precision', '{:.3f}'),
    ('train_pl_precision', 'precision in training', '{:.3f}'),
    ('loss_nce_last', 'loss_nce end', '{:.2f}'),
    ('loss_ml_last', 'loss_ml end', '{:.3f}'),
    ('z_queue_cos', 'mean z1 Q_z', '{:.3f}'),
    ('queue_erank', 'eff. rank Q_z', '{:.1f}'),
)


def markdown_table(results: List[dict]) -> str:
    """One row per variant: mean +- std over seeds, then every seed."""
    groups: Dict[tuple, List[dict]] = {}
    for r in results:
        groups.setdefault((r['dataset'], r['variant']), []).append(r)
    header = ['data', 'variant', 'seeds'] + [title for _, title, _ in COLUMNS]
    rows = ['| ' + ' | '.join(header) + ' |', '|' + ' --- |' * len(header)]
    for (dataset, variant), runs in sorted(groups.items()):
        runs.sort(key=lambda r: r['seed'])
        cells = [dataset, variant, ','.join(str(r['seed']) for r in runs)]
        for key, _, fmt in COLUMNS:
            values = [r[key] for r in runs if key in r]
            if not values:
                cells.append('-')
                continue
            if len(values) == 1:
                cells.append(fmt.format(values[0]))
                continue
            every = ' / '.join(fmt.format(v) for v in values)
            cells.append(f'{fmt.format(mean(values))} +- {fmt.format(stdev(values))} ({every})')
        rows.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(rows) + '\n'


def main() -> None:
    args = parse_args()
    if not args.report_only:
        for dataset in args.datasets:
            base = dataset_config(dataset, args.data_root, args)
            for seed in args.seeds:
                for method in args.methods:
                    single = len(args.methods) == 1
                    variant = args.tag if args.tag and (method == 'mls' or single) else method
                    run_one(dataset, method, variant, seed, base, args)
    table = markdown_table(load_results(args.out_dir))
    print(table)
    if args.markdown:
        with open(args.markdown, 'w') as f:
            f.write(table)


if __name__ == '__main__':
    main()
