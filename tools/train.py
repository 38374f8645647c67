"""Train any MMEngine config: MLS pretraining or a downstream benchmark.

The registry scope follows the config's ``default_scope`` (mmpretrain for
pretraining, mmdet / mmseg for the benchmarks); ``mls_plugin`` is imported
first so its components and its checkpoint allow-list are registered whatever
the scope.

Examples:
    python tools/train.py configs/mls/mls_resnet50_8xb32-coslr-800e_coco.py
    python tools/train.py CONFIG --amp --work-dir work_dirs/run1
    python tools/train.py CONFIG --resume                # latest in work_dir
    python tools/train.py CONFIG --resume work_dirs/run1/epoch_10.pth
    python tools/train.py configs/benchmarks/mmdet/CONFIG --pretrained work_dirs/mls/epoch_800.pth
    bash tools/dist_train.sh CONFIG 8 [--amp ...]        # one node, 8 GPUs
"""

import argparse
import os.path as osp

from mmengine.config import Config
from mmengine.dist import barrier, is_distributed
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mls_plugin.models import set_pretrained  # also registers components and the allow-list
from mls_plugin.runtime import (
    NonFiniteLossError,
    add_launch_args,
    apply_launch_args,
    check_queue_fits_global_batch,
    check_queue_steps,
    distributed_job,
    drop_persistent_workers_without_workers,
    parse_launch_args,
    warm_up_scaled_lr,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model from an MMEngine config')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        help='resume from this checkpoint, or without a path from the latest one in the work dir',
    )
    parser.add_argument(
        '--pretrained',
        metavar='PATH',
        help='benchmark configs: initialise the backbone from this MLS checkpoint or backbone file '
        '(sets every CheckedPretrained init_cfg)',
    )
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by the actual global batch / auto_scale_lr.base_batch_size',
    )
    parser.add_argument('--no-validate', action='store_true', help='skip validation')
    add_launch_args(parser, 'train_dataloader.batch_size=16 model.head.topk=5')
    return parse_launch_args(parser)


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command line on top of the config."""
    apply_launch_args(cfg, args)
    if args.pretrained is not None:
        set_pretrained(cfg.model, args.pretrained)

    if args.amp:
        kind = cfg.optim_wrapper.get('type', 'OptimWrapper')
        amp_kind = {
            'OptimWrapper': 'AmpOptimWrapper',
            'GuardedOptimWrapper': 'GuardedAmpOptimWrapper',
        }
        if kind in amp_kind:
            cfg.optim_wrapper.type = amp_kind[kind]
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
        elif 'Amp' not in kind:
            raise ValueError(f'--amp: no AMP variant of optim_wrapper.type={kind!r}')

    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f'--resume: checkpoint not found: {args.resume}')
        cfg.resume, cfg.load_from = True, args.resume

    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise KeyError(f'--auto-scale-lr: {args.config} has no `auto_scale_lr` key')
        cfg.auto_scale_lr.enable = True

    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)

    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None

    drop_persistent_workers_without_workers(cfg)
    return cfg


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    check_queue_fits_global_batch(cfg)
    check_queue_steps(cfg)
    warm_up_scaled_lr(cfg)
    with distributed_job(cfg):
        runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
        try:
            runner.train()
        except NonFiniteLossError:
            # The step was refused before backward: these are the last good weights. Every
            # rank is here (the guard decides through an all-reduce), but only rank 0 writes:
            # the others wait for it at a barrier, since a rank that exits first makes torchrun
            # kill rank 0 in the middle of the write.
            path = f'before_nonfinite_iter_{runner.iter + 1}.pth'
            runner.save_checkpoint(runner.work_dir, path)
            if is_distributed():
                barrier()
            runner.logger.error(f'non-finite loss: saved the last good state as {path}')
            raise


if __name__ == '__main__':
    main()
