"""A FIFO queue of past keys with several aligned banks."""

from typing import Dict, Optional, Union

import torch
import torch.nn.functional as F
from mmengine.dist import all_gather, get_world_size
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS


@MODELS.register_module()
class QueueMemory(BaseModule):
    """Aligned FIFO banks of L2-normalised keys sharing one write pointer.

    Every bank is a registered buffer of shape ``(length, dim)``, so the queue
    is saved in checkpoints and moves with the model. One :meth:`enqueue` call
    writes the all-gathered keys of every bank at the same slots, which is what
    lets MLS read pseudo-labels from one bank and logits from another: slot
    ``i`` holds the same image in both. A MoCo-style algorithm uses one bank.

    Args:
        length (int): Number of slots ``D``. Must be a multiple of the global
            batch (batch per rank x world size), checked at the first enqueue.
        banks (dict[str, int]): Bank name -> feature dimension, e.g.
            ``dict(g=2048, z=256)``.
        dtypes (dict[str, str], optional): Storage dtype of some banks, e.g.
            ``dict(g='bfloat16')`` halves the memory of a bank that is only
            ranked (MLS's pseudo-label bank). Others are float32.
            Defaults to None.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(
        self,
        length: int,
        banks: Dict[str, int],
        dtypes: Optional[Dict[str, str]] = None,
        init_cfg: Optional[Union[dict, list]] = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if not isinstance(length, int) or length < 1:
            raise ValueError(f'QueueMemory: `length` must be a positive int, got {length!r}')
        if not banks:
            raise ValueError('QueueMemory: `banks` must name at least one bank, e.g. dict(z=256)')
        self.length = length
        self.names = tuple(banks)
        dtypes = dict(dtypes or {})
        unknown = set(dtypes) - set(banks)
        if unknown:
            raise ValueError(f'QueueMemory: `dtypes` names unknown banks {sorted(unknown)}')
        for name, dim in banks.items():
            if not isinstance(dim, int) or dim < 1:
                raise ValueError(f'QueueMemory: `banks.{name}` must be a positive int, got {dim!r}')
            # Random unit vectors, as MoCo: the first D / global_batch steps
            # contrast against noise until the queue has been filled once.
            dtype = getattr(torch, dtypes.get(name, 'float32'), None)
            if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
                raise ValueError(
                    f'QueueMemory: `dtypes.{name}` must name a torch float dtype, '
                    f'got {dtypes[name]!r}'
                )
            bank = F.normalize(torch.randn(length, dim), dim=1).to(dtype)
            self.register_buffer(f'bank_{name}', bank)
        self.register_buffer('ptr', torch.zeros(1, dtype=torch.long))

    def bank(self, name: str) -> torch.Tensor:
        """The ``(length, dim)`` buffer of bank ``name`` (a view, not a copy)."""
        if name not in self.names:
            raise KeyError(f'QueueMemory has no bank {name!r}; banks are {list(self.names)}')
        return getattr(self, f'bank_{name}')

    @torch.no_grad()
    def enqueue(self, **keys: torch.Tensor) -> None:
        """Write this step's keys of every bank, gathered from all ranks.

        Rows are L2-normalised before they are written. Ranks are
        concatenated in rank order, so every rank holds the same queue.

        Args:
            **keys: One ``(B, dim)`` tensor per bank, by bank name.
        """
        if set(keys) != set(self.names):
            raise KeyError(
                f'QueueMemory.enqueue needs exactly the banks {sorted(self.names)}, '
                f'got {sorted(keys)}'
            )
        batch_sizes = {name: k.shape[0] for name, k in keys.items()}
        if len(set(batch_sizes.values())) != 1:
            raise ValueError(f'QueueMemory.enqueue: banks got different batch sizes {batch_sizes}')
        global_batch = next(iter(batch_sizes.values())) * get_world_size()
        if self.length % global_batch != 0:
            raise ValueError(
                f'QueueMemory: `length` ({self.length}) must be a multiple of the global batch '
                f'({global_batch} = batch per rank x {get_world_size()} ranks). Change the '
                'memory `length` or `train_dataloader.batch_size`, and keep `drop_last=True`.'
            )
        gathered = {
            name: torch.cat(all_gather(k.detach().contiguous()), dim=0) for name, k in keys.items()
        }
        # Every rank holds the same gathered keys, so all ranks decide alike.
        if not all(torch.isfinite(g).all() for g in gathered.values()):
            print_log('QueueMemory: non-finite keys not enqueued; the queue is unchanged', level=30)
            return
        ptr = int(self.ptr)
        for name, g in gathered.items():
            bank = self.bank(name)
            bank[ptr : ptr + global_batch] = F.normalize(g, dim=1).to(bank.dtype)
        self.ptr[0] = (ptr + global_batch) % self.length

    def extra_repr(self) -> str:
        dims = {name: self.bank(name).shape[1] for name in self.names}
        return f'length={self.length}, banks={dims}'
