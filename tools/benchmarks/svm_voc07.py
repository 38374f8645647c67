"""VOC07 SVM classification: one command from a pretrained checkpoint to the test mAP.

The protocol of the paper's lineage (FAIR's self-supervision benchmark, OpenSelfSup, DenseCL,
mmselfsup ``svm_voc07``; ``mls_plugin/benchmarks/svm_voc07.py``): frozen res5 features pooled to
2x2 and L2-normalised, one ``LinearSVC`` per class with its cost chosen by k-fold CV AP on
trainval, refitted on trainval, scored on test. The config is a classification benchmark config
with an ``svm`` key (``configs/benchmarks/classification/svm_resnet50_voc07.py``); its backbone
is loaded from CHECKPOINT through the config's ``CheckedPretrained`` init, so a checkpoint that
does not fit the backbone fails loudly. Prints per-class AP and the mAP, and writes JSON.

Example:
    python tools/benchmarks/svm_voc07.py configs/benchmarks/classification/svm_resnet50_voc07.py \
        work_dirs/mls_resnet50_8xb32-coslr-400e_coco/epoch_400.pth --out svm_voc07.json
"""

import argparse
import copy
import json
import time
from pathlib import Path

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mls_plugin.benchmarks.svm_voc07 import extract_svm_features, svm_voc07
from mls_plugin.models import set_pretrained  # also registers the project's components

RANDOM_INIT = 'random'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='classification benchmark config with an `svm` key')
    parser.add_argument(
        'checkpoint',
        help=f'MLS runner checkpoint or backbone file; {RANDOM_INIT!r}: the backbone as '
        'initialised (a random-init baseline, seeded by --seed)',
    )
    parser.add_argument('--seed', type=int, default=0, help='torch seed of a random init')
    parser.add_argument('--costs', type=float, nargs='+', help='SVM costs (default: the config)')
    parser.add_argument('--folds', type=int, help='cross-validation folds (default: the config)')
    parser.add_argument('--jobs', type=int, help='classes fitted in parallel, -1: all CPUs')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument(
        '--out', help='write the result as JSON here, and the log (with the init dump) beside it'
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys, e.g. test_dataloader.batch_size=64',
    )
    return parser.parse_args()


def build_model(cfg: Config, checkpoint: str, seed: int = 0) -> torch.nn.Module:
    """The config's model with its backbone loaded from ``checkpoint`` by CheckedPretrained.

    ``checkpoint == RANDOM_INIT`` drops the CheckedPretrained init: the backbone keeps its own
    initialisation, drawn after ``torch.manual_seed(seed)``.
    """
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    from mmpretrain.registry import MODELS

    model_cfg = copy.deepcopy(cfg.model)
    if checkpoint == RANDOM_INIT:
        model_cfg.backbone.init_cfg = None
        torch.manual_seed(seed)
    else:
        set_pretrained(model_cfg, checkpoint)
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))  # as the Runner does
    model = MODELS.build(model_cfg)
    try:
        model.init_weights()
    except (KeyError, ValueError, FileNotFoundError) as err:
        message = err.args[0] if err.args else repr(err)
        raise SystemExit(
            f'svm_voc07: cannot load the backbone from {checkpoint}: {message}'
        ) from err
    return model


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if 'svm' not in cfg:
        raise SystemExit(f'svm_voc07: {args.config} has no `svm` key (see svm_resnet50_voc07.py)')
    svm = cfg.svm.to_dict()
    for key, value in (('costs', args.costs), ('folds', args.folds), ('n_jobs', args.jobs)):
        if value is not None:
            svm[key] = value
    costs, folds = [float(c) for c in svm['costs']], int(svm.get('folds', 3))

    if (
        args.out
    ):  # mmengine dumps every tensor's init to a log file if there is one, else the console
        MMLogger.get_instance('svm_voc07', log_file=str(Path(args.out).with_suffix('.log')))
    model = build_model(cfg, args.checkpoint, args.seed).to(args.device)
    start = time.time()
    loaders = {
        s: Runner.build_dataloader(cfg[f'{s}_dataloader'], seed=0) for s in ('train', 'test')
    }
    classes = tuple(loaders['train'].dataset.metainfo['classes'])
    if tuple(loaders['test'].dataset.metainfo['classes']) != classes:
        raise SystemExit('svm_voc07: train_dataloader and test_dataloader have other classes')
    feats = {
        split: extract_svm_features(
            model, loader, len(classes), svm.get('pool', 'lineage'), svm.get('pool_size', 2)
        )
        for split, loader in loaders.items()
    }
    extract_s = time.time() - start
    result = svm_voc07(
        *feats['train'],
        *feats['test'],
        classes=classes,
        costs=costs,
        folds=folds,
        n_jobs=svm.get('n_jobs', 1),
    )

    print(f'{"class":<14} {"AP":>6} {"AP11":>6}  {"cost":>9}  best CV AP')
    for name, r in result['classes'].items():
        best_cv = max(r['cv_ap'].values())
        print(f'{name:<14} {r["ap"]:6.2f} {r["ap_11point"]:6.2f}  {r["cost"]:9.3g}  {best_cv:.2f}')
    for name, reason in result['skipped'].items():
        print(f'{name:<14} skipped: {reason}')
    n = len(result['classes'])
    print(
        f'VOC07 SVM test mAP {result["mAP"]:.2f} (all-point AP of the lineage; VOC07 11-point '
        f'{result["mAP_11point"]:.2f}) over {n} classes; trainval {len(feats["train"][0])}, '
        f'test {len(feats["test"][0])} images, {feats["train"][0].shape[1]}-d features'
    )
    if args.out:
        result.update(
            config=args.config,
            checkpoint=args.checkpoint,
            seed=args.seed if args.checkpoint == RANDOM_INIT else None,
            protocol=dict(svm, costs=costs, folds=folds),
            num_trainval=len(feats['train'][0]),
            num_test=len(feats['test'][0]),
            feature_dim=int(feats['train'][0].shape[1]),
            extract_seconds=round(extract_s, 1),
            total_seconds=round(time.time() - start, 1),
        )
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
        print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
