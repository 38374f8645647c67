"""Evaluate a trained model from its MMEngine config and checkpoint.

Works for every config of the project (the registry scope follows the
config's ``default_scope``): detection prints COCO / VOC AP, segmentation
mIoU, classification mAP.

Examples:
    python tools/test.py configs/benchmarks/mmdet/CONFIG work_dirs/det/iter_90000.pth
    bash tools/dist_test.sh CONFIG CHECKPOINT 8
"""

import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

# Importing mls_plugin also registers its components.
from mls_plugin.utils import close_distributed, prepare_cpu_distributed, prepare_determinism


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a model from an MMEngine config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint to evaluate')
    parser.add_argument('--work-dir', help='where logs and metrics go')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys, e.g. test_dataloader.batch_size=1',
    )
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher',
    )
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main() -> None:
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0])
    # Runner.test() does not run init_weights: the pretrained backbone file
    # is not needed, all weights come from this checkpoint.
    cfg.load_from = args.checkpoint
    prepare_determinism(cfg)
    prepare_cpu_distributed(cfg)
    loader = cfg.get('test_dataloader')
    if loader is not None and loader.get('num_workers', 0) == 0:
        loader['persistent_workers'] = False
    finished = False
    try:
        Runner.from_cfg(cfg).test()
        finished = True
    finally:
        close_distributed(wait_for_others=finished)


if __name__ == '__main__':
    main()
