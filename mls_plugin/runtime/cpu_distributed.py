"""Set up and tear down the process group of ``--launcher pytorch`` jobs."""

import torch
from mmengine.config import Config


def prepare_cpu_distributed(cfg: Config) -> None:
    """Let ``--launcher pytorch`` run on hosts without CUDA (tests, debugging).

    mmengine's pytorch launcher calls ``torch.cuda.set_device`` and its DDP
    wrapper passes ``device_ids=[LOCAL_RANK]``; both fail on CPU. The Runner
    skips its own set-up when a process group exists, so we start gloo here
    and wrap the model without device ids.
    """
    if cfg.launcher == 'pytorch' and not torch.cuda.is_available():
        backend = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('backend', 'gloo')
        if backend != 'gloo':
            raise ValueError(
                f'env_cfg.dist_cfg.backend={backend!r} needs CUDA; on CPU pass '
                '--cfg-options env_cfg.dist_cfg.backend=gloo'
            )
        torch.distributed.init_process_group(backend='gloo')
        if cfg.get('model_wrapper_cfg') is None:
            cfg.model_wrapper_cfg = dict(
                type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False
            )


def close_distributed(wait_for_others: bool = True) -> None:
    """After success, meet the other ranks and destroy the process group; after a failure, leave.

    Left to interpreter shutdown after a successful run, gloo's worker threads can be destroyed
    while still joinable ("terminate called without an active exception"), which turns a
    finished run into a failed exit code: so a run that succeeded meets the others at a barrier
    and destroys the group.

    A rank that failed must exit at once, so that torchrun or ``srun --kill-on-bad-exit`` stops
    the job, instead of waiting in a barrier the others never reach until the collective
    timeout (30 minutes by default). It must not destroy the group either: with NCCL that call
    can block while peers sit in a collective (torchtitan removed it from its error path for
    that reason); the exit code is non-zero anyway.

    Args:
        wait_for_others (bool): The run succeeded: barrier, then destroy the group.
    """
    if not wait_for_others:
        return
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
