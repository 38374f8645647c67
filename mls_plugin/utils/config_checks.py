"""Checks of a whole config that no single component can make when it is built."""

import os

from mmengine.config import Config


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
