"""MLS against InfoNCE only on coco_scenes in eight minutes of one GPU (issue 27).

Every image of coco_scenes is decoded once into a GPU-resident uint8 canvas
(``ResidentCanvasDataset``) and the two views of each step are made on the GPU
(``MoCoV2TwoViewPreprocessor``): the small-scale recipe
(``configs/mls/small_scale/mls_resnet18_1xb32-coslr-40e_coco-scenes-64px-gpu-views.py``) with as
many epochs and seeds as the budget allows. Each run is pretrained and scored by
``tools/analysis/compare_pretraining.py`` (kNN and linear-probe mAP on val, the train-split
kNN, the pseudo-label precision), and its ``result.json`` is copied to
``docs/results/gpu/study/<method>/seed<k>.json`` with the plan and the table.

The plan (how many epochs and seeds fit the budget, the command) comes from the per-step and
per-run costs given (``--step-s``, ``--run-overhead-s``; their defaults are estimates, not H100
measurements: replace them by the first run's numbers). ``--plan`` prints it and writes the
study config without training: that runs on a CPU, and ``--indices N`` makes everything tiny.

Examples:
    bash tools/gpu_study.sh                        # on one GPU, at most --budget-s 480
    python tools/gpu_study.py --plan               # what it would run, and how long
"""

import argparse
import copy
import json
import math
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
from typing import Dict, List

from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/mls/small_scale/mls_resnet18_1xb32-coslr-40e_coco-scenes-64px-gpu-views.py'
COMPARE = 'tools/analysis/compare_pretraining.py'
METHODS = ('mls', 'infonce')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--budget-s', type=float, default=480, help='wall time of the study')
    parser.add_argument(
        '--step-s', type=float, default=0.03, help='seconds per training step (estimate)'
    )
    parser.add_argument(
        '--run-overhead-s',
        type=float,
        default=35,
        help='seconds per run besides its steps: start, decoding into the GPU, scoring',
    )
    parser.add_argument('--max-seeds', type=int, default=3)
    parser.add_argument('--max-epochs', type=int, default=400)
    parser.add_argument('--min-epochs', type=int, default=40, help='fewer seeds below this')
    parser.add_argument('--indices', type=int, help='use only the first N train images (tiny)')
    parser.add_argument('--data-root', default=osp.join(osp.dirname(REPO), 'shared/data'))
    parser.add_argument('--work-dir', default=osp.join(REPO, 'work_dirs/gpu_study'))
    parser.add_argument('--results', default=osp.join(REPO, 'docs/results/gpu/study'))
    parser.add_argument('--plan', action='store_true', help='print the plan, train nothing')
    return parser.parse_args(argv)


def study_config(indices=None) -> Config:
    """The GPU-views config with its train set resident on the device, no workers."""
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    inner = copy.deepcopy(cfg.train_dataloader.dataset)
    if indices:
        inner['indices'] = indices
    cfg.train_dataloader.dataset = dict(type='ResidentCanvasDataset', dataset=inner, device='auto')
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    return cfg


def plan_study(args: argparse.Namespace, num_images: int, batch: int) -> Dict:
    """Epochs and seeds that fit ``--budget-s``: most seeds first, then the most epochs."""
    steps_per_epoch = num_images // batch
    if steps_per_epoch < 1:
        raise ValueError(f'gpu_study: {num_images} images give no full batch of {batch}')
    epoch_s = steps_per_epoch * args.step_s
    for seeds in range(args.max_seeds, 0, -1):
        runs = seeds * len(METHODS)
        left = args.budget_s - runs * args.run_overhead_s
        epochs = min(args.max_epochs, int(left / runs / epoch_s)) if left > 0 else 0
        if epochs >= args.min_epochs or seeds == 1:
            break
    if epochs < 1:
        raise ValueError(
            f'gpu_study: no epoch fits --budget-s {args.budget_s:g} with --run-overhead-s '
            f'{args.run_overhead_s:g} per run'
        )
    estimate = runs * (args.run_overhead_s + epochs * epoch_s)
    return dict(
        methods=list(METHODS),
        seeds=list(range(seeds)),
        epochs=epochs,
        knn_interval=max(1, epochs // 4),
        runs=runs,
        images=num_images,
        steps_per_epoch=steps_per_epoch,
        step_s=args.step_s,
        run_overhead_s=args.run_overhead_s,
        estimated_s=round(estimate, 1),
        budget_s=args.budget_s,
    )


def compare_command(plan: Dict, config_path: str, args: argparse.Namespace) -> List[str]:
    """The compare_pretraining.py command line that runs and scores the plan."""
    return [
        sys.executable,
        osp.join(REPO, COMPARE),
        '--datasets',
        'coco_scenes',
        '--config',
        config_path,
        '--data-root',
        args.data_root,
        '--methods',
        *plan['methods'],
        '--seeds',
        *map(str, plan['seeds']),
        '--epochs',
        str(plan['epochs']),
        '--knn-interval',
        str(plan['knn_interval']),
        '--out-dir',
        osp.join(args.work_dir, 'runs'),
        '--markdown',
        osp.join(args.work_dir, 'table.md'),
    ]


def collect(args: argparse.Namespace, plan: Dict, wall_s: float) -> List[str]:
    """Copy every run's result.json, the table and the plan under ``--results``."""
    copied = []
    for method in plan['methods']:
        for seed in plan['seeds']:
            src = osp.join(args.work_dir, 'runs', 'coco_scenes', method, f'seed{seed}')
            src = osp.join(src, 'result.json')
            if osp.isfile(src):
                dst = osp.join(args.results, method, f'seed{seed}.json')
                os.makedirs(osp.dirname(dst), exist_ok=True)
                shutil.copyfile(src, dst)
                copied.append(dst)
    table = osp.join(args.work_dir, 'table.md')
    if osp.isfile(table):
        shutil.copyfile(table, osp.join(args.results, 'table.md'))
    with open(osp.join(args.results, 'plan.json'), 'w') as f:
        json.dump(dict(plan, wall_s=round(wall_s, 1)), f, indent=1)
    return copied


def main(argv=None) -> int:
    args = parse_args(argv)
    import mls_plugin  # noqa: F401  (registers the components the config names)

    cfg = study_config(args.indices)
    ann = osp.join(args.data_root, 'coco_scenes', cfg.train_dataloader.dataset.dataset.ann_file)
    if not osp.isfile(ann):
        raise FileNotFoundError(f'gpu_study: coco_scenes not found ({ann}); see --data-root')
    with open(ann) as f:
        num_images = len(json.load(f)['images'])
    if args.indices:
        num_images = min(num_images, args.indices)
    plan = plan_study(args, num_images, cfg.train_dataloader.batch_size)
    os.makedirs(args.work_dir, exist_ok=True)
    config_path = osp.join(args.work_dir, 'study_config.py')
    cfg.dump(config_path)
    cmd = compare_command(plan, config_path, args)
    print(json.dumps(dict(plan, config=config_path, command=cmd), indent=1), flush=True)
    if args.plan:
        return 0
    import torch

    if not torch.cuda.is_available():
        print('gpu_study: no CUDA GPU visible; --plan shows what would run', file=sys.stderr)
        return 2
    start = time.time()
    done = subprocess.run(cmd, cwd=REPO)
    wall = time.time() - start
    copied = collect(args, plan, wall)
    print(f'{len(copied)} results in {args.results} after {math.ceil(wall)} s')
    return done.returncode


if __name__ == '__main__':
    sys.exit(main())
