"""Evaluate a trained model from its MMEngine config and checkpoint.

Works for every config of the project (the registry scope follows the
config's ``default_scope``): detection prints COCO / VOC AP, segmentation
mIoU, classification mAP.

Examples:
    python tools/test.py configs/benchmarks/mmdet/CONFIG work_dirs/det/iter_90000.pth
    bash tools/dist_test.sh CONFIG CHECKPOINT 8
"""

import argparse
import os.path as osp

from mmengine.config import Config
from mmengine.runner import Runner

# Importing mls_plugin also registers its components.
from mls_plugin.runtime import (
    add_launch_args,
    apply_launch_args,
    distributed_job,
    drop_persistent_workers_without_workers,
    parse_launch_args,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a model from an MMEngine config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint to evaluate')
    add_launch_args(parser, 'test_dataloader.batch_size=1')
    return parse_launch_args(parser)


def main() -> None:
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    apply_launch_args(cfg, args)
    # Runner.test() does not run init_weights: the pretrained backbone file
    # is not needed, all weights come from this checkpoint.
    cfg.load_from = args.checkpoint
    drop_persistent_workers_without_workers(cfg)
    with distributed_job(cfg):
        Runner.from_cfg(cfg).test()


if __name__ == '__main__':
    main()
