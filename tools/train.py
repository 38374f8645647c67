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
import os
import os.path as osp

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mls_plugin.engine import NonFiniteLossError
from mls_plugin.models import set_pretrained  # also registers components and the allow-list
from mls_plugin.utils import (
    check_queue_fits_global_batch,
    close_distributed,
    prepare_cpu_distributed,
    prepare_determinism,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model from an MMEngine config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
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
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys, e.g. train_dataloader.batch_size=16 model.head.topk=5',
    )
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher',
    )
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command line on top of the config."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0])

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

    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if isinstance(loader, (dict, ConfigDict)) and loader.get('num_workers', 0) == 0:
            # torch refuses persistent workers without worker processes.
            loader['persistent_workers'] = False
    return cfg


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    check_queue_fits_global_batch(cfg)
    prepare_determinism(cfg)
    prepare_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    finished = False
    try:
        runner.train()
        finished = True
    except NonFiniteLossError:
        # The step was refused before backward: these are the last good weights.
        path = f'before_nonfinite_iter_{runner.iter + 1}.pth'
        runner.save_checkpoint(runner.work_dir, path)
        runner.logger.error(f'non-finite loss: saved the last good state as {path}')
        raise
    finally:
        close_distributed(wait_for_others=finished)


if __name__ == '__main__':
    main()
