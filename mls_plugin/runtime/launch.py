"""What tools/train.py and tools/test.py share: launcher options, work dir, process group."""

import argparse
import os
import os.path as osp
from contextlib import contextmanager
from typing import Iterator

from mmengine.config import Config, ConfigDict, DictAction

from .cpu_distributed import close_distributed, prepare_cpu_distributed
from .determinism import prepare_determinism


def add_launch_args(parser: argparse.ArgumentParser, cfg_example: str) -> None:
    """``--work-dir``, ``--cfg-options``, ``--launcher`` and ``--local-rank``."""
    parser.add_argument('--work-dir', help='where logs, metrics and checkpoints go')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help=f'override config keys, e.g. {cfg_example}',
    )
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher',
    )
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_launch_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    args = parser.parse_args()
    # mmengine's DDP wrapper reads LOCAL_RANK for its device; mpirun names it differently
    # (without this every rank of an mpi job would use GPU 0). srun's is set by mmengine.
    local_rank = os.environ.get('OMPI_COMM_WORLD_LOCAL_RANK', str(args.local_rank))
    os.environ.setdefault('LOCAL_RANK', local_rank)
    return args


def apply_launch_args(cfg: Config, args: argparse.Namespace) -> None:
    """Launcher, and the work dir: ``--work-dir``, the config's, or work_dirs/<config name>."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0])


def drop_persistent_workers_without_workers(cfg: Config) -> None:
    """torch refuses ``persistent_workers=True`` with ``num_workers=0``."""
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if isinstance(loader, (dict, ConfigDict)) and loader.get('num_workers', 0) == 0:
            loader['persistent_workers'] = False


@contextmanager
def distributed_job(cfg: Config) -> Iterator[None]:
    """Prepare determinism and the process group; on leaving, close the group, meeting the
    other ranks at a barrier only if the body succeeded (a failed rank must exit at once)."""
    prepare_determinism(cfg)
    prepare_cpu_distributed(cfg)
    finished = False
    try:
        yield
        finished = True
    finally:
        close_distributed(wait_for_others=finished)
