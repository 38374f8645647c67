"""Checks of a whole config that no single component can make when it is built."""

import os

from mmengine.config import Config


def check_queue_fits_global_batch(cfg: Config) -> None:
    """Refuse a queue length that is not a multiple of the global batch, before training.

    ``QueueMemory`` can only see the global batch at its first enqueue; this
    catches the mistake when the job starts instead (the world size comes from
    ``WORLD_SIZE``, set by torchrun and slurm).
    """
    memory = cfg.get('model', {}).get('memory')
    loader = cfg.get('train_dataloader')
    if not memory or not loader or 'length' not in memory:
        return
    world = int(os.environ.get('WORLD_SIZE', os.environ.get('SLURM_NTASKS', 1)))
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
