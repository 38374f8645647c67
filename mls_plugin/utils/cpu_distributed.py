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
    """Destroy the process group, if any, before the interpreter exits.

    Left to interpreter shutdown, gloo's worker threads can be destroyed while
    still joinable ("terminate called without an active exception"), which
    turns a finished run into a failed exit code.

    Args:
        wait_for_others (bool): Meet the other ranks at a barrier first. Only
            after success: a rank that failed must exit at once, so that
            torchrun or ``srun --kill-on-bad-exit`` stops the job, instead of
            waiting in a barrier the others never reach until the collective
            timeout (30 minutes by default).
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        if wait_for_others:
            torch.distributed.barrier()
        torch.distributed.destroy_process_group()
