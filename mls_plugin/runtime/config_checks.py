"""Checks of a whole config that no single component can make when it is built."""

import logging
import os

from mmengine.config import Config
from mmengine.logging import print_log


def launcher_world_size(launcher: str) -> int:
    """The number of processes a job of this launcher will have, before it starts.

    torchrun sets ``WORLD_SIZE``; srun and mpirun set their own variables,
    which only count for their launcher (a ``--launcher none`` debugging run
    inside a Slurm allocation is one process).
    """
    if launcher == 'none':
        return 1
    if 'WORLD_SIZE' in os.environ:
        return int(os.environ['WORLD_SIZE'])
    variable = {'slurm': 'SLURM_NTASKS', 'mpi': 'OMPI_COMM_WORLD_SIZE'}.get(launcher)
    return int(os.environ.get(variable, 1)) if variable else 1


def check_queue_fits_global_batch(cfg: Config) -> None:
    """Refuse a queue length that is not a multiple of the global batch, before training.

    ``QueueMemory`` can only see the global batch at its first enqueue; this
    catches the mistake when the job starts instead.
    """
    memory = cfg.get('model', {}).get('memory')
    loader = cfg.get('train_dataloader')
    if not memory or not loader or 'length' not in memory:
        return
    world = launcher_world_size(cfg.get('launcher', 'none'))
    global_batch = loader['batch_size'] * world
    if memory['length'] % global_batch:
        raise ValueError(
            f'model.memory.length ({memory["length"]}) must be a multiple of the global batch '
            f'{global_batch} (train_dataloader.batch_size {loader["batch_size"]} x {world} '
            'processes)'
        )
    if not loader.get('drop_last', False):
        raise ValueError(
            'train_dataloader.drop_last must be True: a short last batch would not fit '
            f'model.memory.length ({memory["length"]})'
        )


# The paper's queue holds 16 steps of keys: D = 4096 over a global batch of 8 x 32 = 256.
PAPER_STEPS_IN_QUEUE = 16
# Goyal et al. (2017): a linear warm-up of 5 epochs when the lr is scaled with a large batch.
WARMUP_EPOCHS = 5


def check_queue_steps(cfg: Config) -> None:
    """Warn when the queue holds fewer steps of keys than the paper's 16.

    Scaling a config to more GPUs multiplies the global batch, not ``memory.length``: at 8 nodes
    x 8 GPUs x 32 the paper's D = 4096 holds two steps of keys, so the negatives and the
    candidates for the pseudo-labels come from far fewer past batches than in the paper.
    """
    memory = cfg.get('model', {}).get('memory')
    loader = cfg.get('train_dataloader')
    if not memory or not loader or 'length' not in memory:
        return
    global_batch = loader['batch_size'] * launcher_world_size(cfg.get('launcher', 'none'))
    steps = memory['length'] / global_batch
    if steps < PAPER_STEPS_IN_QUEUE:
        print_log(
            f'model.memory.length ({memory["length"]}) holds {steps:g} steps of keys at the '
            f"global batch {global_batch}; the paper's setting holds {PAPER_STEPS_IN_QUEUE} "
            f'(D = 4096 at 8 x 32). To keep the method as published, set model.memory.length='
            f'{PAPER_STEPS_IN_QUEUE * global_batch} (and head.topk in proportion, k / D = 0.5 %).',
            logger='current',
            level=logging.WARNING,
        )


def warm_up_scaled_lr(cfg: Config) -> None:
    """With ``--auto-scale-lr`` raising the lr, start with a linear warm-up where there is none.

    mmengine multiplies the lr by global batch / ``auto_scale_lr.base_batch_size``: 2,048 images
    a step (8 nodes) turn the paper's 0.3 into 2.4 from the first step. Large-batch SGD needs a
    warm-up for that (Goyal et al., 2017): a schedule that starts with an epoch-based
    ``CosineAnnealingLR`` gets ``LinearLR`` over the first 5 epochs (from 1/factor of the scaled
    lr, i.e. the unscaled one) and the cosine over the rest, as mmpretrain's configs write it.
    A schedule that already starts with a warm-up, or one of another shape, is left as it is.
    """
    scale = cfg.get('auto_scale_lr', {})
    loader = cfg.get('train_dataloader')
    if not scale.get('enable') or not loader or 'base_batch_size' not in scale:
        return
    global_batch = loader['batch_size'] * launcher_world_size(cfg.get('launcher', 'none'))
    factor = global_batch / scale['base_batch_size']
    schedulers = cfg.get('param_scheduler')
    if factor <= 1 or not schedulers:
        return
    schedulers = list(schedulers) if isinstance(schedulers, (list, tuple)) else [schedulers]
    first = schedulers[0]
    if first.get('type') != 'CosineAnnealingLR' or not first.get('by_epoch', True):
        return
    begin = first.get('begin', 0)
    end = first.get('end', cfg.train_cfg.max_epochs)
    if begin != 0 or end - begin <= 2 * WARMUP_EPOCHS:
        return
    warmup = dict(
        type='LinearLR',
        start_factor=1 / factor,
        by_epoch=True,
        begin=0,
        end=WARMUP_EPOCHS,
        convert_to_iter_based=True,
    )
    cosine = dict(first, begin=WARMUP_EPOCHS, T_max=end - WARMUP_EPOCHS)
    cfg.param_scheduler = [warmup, cosine, *schedulers[1:]]
    print_log(
        f'--auto-scale-lr multiplies the lr by {factor:g} (global batch {global_batch} / '
        f'{scale["base_batch_size"]}): added a linear warm-up over the first {WARMUP_EPOCHS} '
        f'epochs from the unscaled lr (Goyal et al., 2017); the cosine runs over epochs '
        f'{WARMUP_EPOCHS} to {end}.',
        logger='current',
        level=logging.WARNING,
    )
