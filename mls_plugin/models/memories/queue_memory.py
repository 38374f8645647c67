"""A FIFO queue of past keys with several aligned banks."""

import logging
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.dist import get_world_size
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ..utils import gather_rows

# Bound on the elements of a bank converted to the query's dtype at once: the products
# never materialise a converted copy of the whole bank, and each chunk is released before the
# next is converted, so the largest temporary is one chunk. On a CPU a small chunk stays in
# cache; on a GPU each chunk costs a few kernel launches, so there it is 8M elements (32 MiB in
# float32, the paper's whole Q_g at D = 4096, d = 2048; 16 chunks at D = 65536).
_CHUNK_ELEMENTS = 1 << 20
_ACCELERATOR_CHUNK_ELEMENTS = 1 << 23


def _chunk_elements(device: torch.device) -> int:
    return _CHUNK_ELEMENTS if device.type == 'cpu' else _ACCELERATOR_CHUNK_ELEMENTS


def _converted(rows: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """One chunk of stored rows in ``dtype`` (the only temporary copy of the bank)."""
    return rows.to(dtype)


@MODELS.register_module()
class QueueMemory(BaseModule):
    """Aligned FIFO banks of L2-normalised keys sharing one write pointer.

    Every bank is a registered buffer of shape ``(length, dim)``, so the queue
    is saved in checkpoints and moves with the model. One :meth:`enqueue` call
    writes the all-gathered keys of every bank at the same slots, which is what
    lets MLS read pseudo-labels from one bank and logits from another: slot
    ``i`` holds the same image in both. A MoCo-style algorithm uses one bank.

    Read the banks through :meth:`similarity`: it is differentiable with
    respect to the query and stays correct when the step's own enqueue
    overwrites slots before backward, without copying the bank.

    Args:
        length (int): Number of slots ``D``. Must be a multiple of the global
            batch (batch per rank x world size), checked at the first enqueue.
        banks (dict[str, int]): Bank name -> feature dimension, e.g.
            ``dict(g=2048, z=256)``.
        dtypes (dict[str, str], optional): Storage dtype of some banks; the
            others are float32. A float dtype (``'bfloat16'``, ``'float16'``,
            ``'float64'``) stores the rows in it; ``'int8'`` stores each row
            quantised to int8 with one float32 scale per row (a quarter of
            float32; how far each changes a ranking is measured in
            ``docs/performance.md``). Products are computed in the query's
            dtype either way, converting a bounded chunk of rows at a time.
            Meant for a bank that is only ranked, such as MLS's pseudo-label
            bank ``g`` at large ``D``. A checkpoint saved with another storage
            dtype of a bank is converted when loaded. Defaults to None.
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
        self.dims = dict(banks)
        dtypes = dict(dtypes or {})
        unknown = set(dtypes) - set(banks)
        if unknown:
            raise ValueError(f'QueueMemory: `dtypes` names unknown banks {sorted(unknown)}')
        self.quantised = tuple(name for name in banks if dtypes.get(name) == 'int8')
        for name, dim in banks.items():
            if not isinstance(dim, int) or dim < 1:
                raise ValueError(f'QueueMemory: `banks.{name}` must be a positive int, got {dim!r}')
            dtype = getattr(torch, dtypes.get(name, 'float32'), None)
            if not isinstance(dtype, torch.dtype) or not (
                dtype.is_floating_point or dtype == torch.int8
            ):
                raise ValueError(
                    f'QueueMemory: `dtypes.{name}` must be a torch float dtype or "int8", '
                    f'got {dtypes[name]!r}'
                )
            if name in self.quantised:
                self.register_buffer(f'bank_{name}', torch.zeros(length, dim, dtype=torch.int8))
                self.register_buffer(f'scale_{name}', torch.zeros(length))
            else:
                self.register_buffer(f'bank_{name}', torch.zeros(length, dim, dtype=dtype))
            # Random unit vectors, as MoCo: the first D / global_batch steps
            # contrast against noise until the queue has been filled once.
            self._write(name, slice(0, length), torch.randn(length, dim))
        self.register_buffer('ptr', torch.zeros(1, dtype=torch.long))
        # Host copy of `ptr`: reading the buffer on a GPU would wait for the device every step.
        # Every rank advances it alike; loading a checkpoint reads the buffer once.
        self._host_ptr = 0

    @property
    def pointer(self) -> int:
        """The next slot to write, from the host copy: reading it never waits for the device."""
        return self._host_ptr

    @property
    def names(self) -> Tuple[str, ...]:
        """The bank names, in config order."""
        return tuple(self.dims)

    def bank(self, name: str) -> torch.Tensor:
        """The ``(length, dim)`` rows of bank ``name``.

        A view of the buffer for a float bank; a dequantised float32 copy for
        an int8 bank (use :meth:`similarity` on the training path).
        """
        stored = self._stored(name)
        if name in self.quantised:
            return stored.float() * getattr(self, f'scale_{name}')[:, None]
        return stored

    @torch.no_grad()
    def moments(self, name: str) -> Tuple[torch.Tensor, torch.Tensor]:
        """Mean row and second moment ``bank^T bank / length`` of bank ``name``, in float32.

        Computed a bounded chunk of rows at a time, so an int8 bank is never
        dequantised whole (what the projection's health scalars read every step).
        """
        dim = self.dims[name]
        device = self._stored(name).device
        total = torch.zeros(dim, device=device)
        second = torch.zeros(dim, dim, device=device)
        # In float32 also under autocast, which would run Q^T Q in 16 bits.
        with torch.autocast(device.type, enabled=False):
            for slots in self._chunk_slices(name):
                rows = _converted(self._stored(name)[slots], torch.float32)
                if name in self.quantised:
                    rows = rows * getattr(self, f'scale_{name}')[slots, None]
                total += rows.sum(dim=0)
                second += rows.t() @ rows
                del rows  # released before the next chunk is converted
        return total / self.length, second / self.length

    def next_slots(self, batch_size: int) -> slice:
        """The slots the next :meth:`enqueue` of ``batch_size`` keys per rank writes.

        A pointer that is not a multiple of the global batch (a checkpoint written at another
        world size or batch, e.g. 8 x 32 resumed on 64 x 32) would make the write run past the
        end of the queue: it is moved back to the multiple below, once, with a warning. That
        overwrites the newest keys a step early, so no key stays longer than a queue's worth.
        """
        global_batch = self._global_batch(batch_size)
        if self._host_ptr % global_batch:
            aligned = self._host_ptr - self._host_ptr % global_batch
            print_log(
                f'QueueMemory: the queue pointer {self._host_ptr} is not a multiple of the '
                f'global batch {global_batch} (the checkpoint was written at another world '
                f'size or batch size); the next keys are written from slot {aligned}, so the '
                f'{self._host_ptr - aligned} newest keys of the checkpoint are overwritten '
                'first. Nothing else of the queue changes.',
                logger='current',
                level=logging.WARNING,
            )
            self._host_ptr = aligned
            self.ptr.fill_(aligned)
        return slice(self._host_ptr, self._host_ptr + global_batch)

    def similarity(
        self, name: str, query: torch.Tensor, batch_size: Optional[int] = None
    ) -> torch.Tensor:
        """``query @ bank^T``, differentiable with respect to ``query``.

        The backward does not need the bank as it was in the forward: it keeps
        a copy of only the slots that this step's :meth:`enqueue` (of
        ``batch_size`` keys per rank) overwrites, and corrects for them, so
        the caller may enqueue before backward without cloning the bank.

        Args:
            name (str): The bank.
            query (Tensor): ``(N, dim)`` queries.
            batch_size (int, optional): Keys per rank that this step's
                enqueue writes, when it is not ``N``: e.g. ``B`` for the
                ``B x S^2`` cell queries of a dense loss over ``B`` images.
                Defaults to None (``N``).

        Returns:
            Tensor: ``(N, length)`` products in the query's dtype (or the
            autocast dtype).
        """
        self._stored(name)  # names the bank in the error if it does not exist
        return _BankProduct.apply(query, self, name, batch_size or query.shape[0])

    @torch.no_grad()
    def gather(self, **keys: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Every rank's keys of every bank, in rank order, through one all-gather.

        Args:
            **keys: One ``(B, dim)`` tensor per bank, by bank name.

        Returns:
            dict[str, Tensor]: ``(B x world_size, dim)`` per bank, in the
            promoted dtype of the keys.
        """
        self._check_keys(keys)
        return gather_rows(**keys)

    @torch.no_grad()
    def enqueue(self, **keys: torch.Tensor) -> None:
        """Write this step's keys of every bank, gathered from all ranks.

        Rows are L2-normalised before they are written. Ranks are
        concatenated in rank order, so every rank holds the same queue.

        Args:
            **keys: One ``(B, dim)`` tensor per bank, by bank name.
        """
        self.enqueue_gathered(**self.gather(**keys))

    @torch.no_grad()
    def enqueue_gathered(self, **keys: torch.Tensor) -> None:
        """Write keys already gathered from every rank (see :meth:`gather`).

        If any key is not finite, the rows keep their old keys; the decision
        is taken on the device (no wait for it), and the pointer moves on
        either way, since every rank must know it without asking the device.

        Args:
            **keys: One ``(B x world_size, dim)`` tensor per bank, by bank name.
        """
        self._check_keys(keys)
        rows = next(iter(keys.values())).shape[0]
        if rows % get_world_size():
            raise ValueError(
                f'QueueMemory.enqueue_gathered: {rows} keys do not split over '
                f'{get_world_size()} ranks'
            )
        slots = self.next_slots(rows // get_world_size())
        finite = torch.stack([torch.isfinite(k).all() for k in keys.values()]).all()
        for name, k in keys.items():
            self._write(name, slots, k, keep_old=~finite)
        self._host_ptr = slots.stop % self.length
        self.ptr.fill_(self._host_ptr)

    def _check_keys(self, keys: Dict[str, torch.Tensor]) -> None:
        if set(keys) != set(self.names):
            raise KeyError(
                f'QueueMemory.enqueue needs exactly the banks {sorted(self.names)}, '
                f'got {sorted(keys)}'
            )
        batch_sizes = {name: k.shape[0] for name, k in keys.items()}
        if len(set(batch_sizes.values())) != 1:
            raise ValueError(f'QueueMemory.enqueue: banks got different batch sizes {batch_sizes}')

    def extra_repr(self) -> str:
        return f'length={self.length}, banks={self.dims}, int8={list(self.quantised)}'

    def _stored(self, name: str) -> torch.Tensor:
        if name not in self.names:
            raise KeyError(f'QueueMemory has no bank {name!r}; banks are {list(self.names)}')
        return getattr(self, f'bank_{name}')

    def _global_batch(self, batch_size: int) -> int:
        global_batch = batch_size * get_world_size()
        if self.length % global_batch != 0:
            raise ValueError(
                f'QueueMemory: `length` ({self.length}) must be a multiple of the global batch '
                f'({global_batch} = batch per rank x {get_world_size()} ranks). Change the '
                'memory `length` or `train_dataloader.batch_size`, and keep `drop_last=True`.'
            )
        return global_batch

    def _write(
        self, name: str, slots: slice, rows: torch.Tensor, keep_old: Optional[torch.Tensor] = None
    ) -> None:
        """Normalise and store ``rows`` at ``slots``; where the 0-d bool ``keep_old`` is
        true, the stored rows stay as they are."""
        stored = self._stored(name)
        rows = F.normalize(rows.to(stored.device), dim=1)
        if name in self.quantised:
            new = dict(zip((f'bank_{name}', f'scale_{name}'), _quantise(rows)))
        else:
            new = {f'bank_{name}': rows.to(stored.dtype)}
        for buffer_name, values in new.items():
            buffer = getattr(self, buffer_name)
            if keep_old is not None:
                values = torch.where(keep_old, buffer[slots], values)
            buffer[slots] = values

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # A bank saved with another storage dtype (float32 <-> int8) is converted, not
        # cast: casting unit rows to int8 would write zeros into the queue.
        for name in self.names:
            key, scale_key = f'{prefix}bank_{name}', f'{prefix}scale_{name}'
            saved = state_dict.get(key)
            if saved is None or (saved.dtype == torch.int8) == (name in self.quantised):
                continue
            if name in self.quantised:
                state_dict[key], state_dict[scale_key] = _quantise(saved.float())
            else:
                scale = state_dict.pop(scale_key, None)
                if scale is None:
                    raise KeyError(f'QueueMemory: `{key}` is int8 but `{scale_key}` is missing')
                state_dict[key] = saved.float() * scale[:, None]
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._host_ptr = int(self.ptr)

    def _chunk_slices(self, name: str) -> List[slice]:
        """The bank's rows in chunks of a bounded number of elements."""
        stored = self._stored(name)
        step = max(1, _chunk_elements(stored.device) // stored.shape[1])
        return [slice(start, start + step) for start in range(0, self.length, step)]

    def _product(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """``x @ bank^T`` in ``x``'s dtype, without a converted copy of the whole bank."""
        stored = self._stored(name)
        if stored.dtype == x.dtype:
            return x @ stored.t()
        out = x.new_empty(x.shape[0], self.length)
        for slots in self._chunk_slices(name):
            rows = _converted(stored[slots], x.dtype)
            out[:, slots] = x @ rows.t()
            del rows  # released before the next chunk is converted
        if name in self.quantised:
            out.mul_(getattr(self, f'scale_{name}').to(out.dtype))
        return out

    def _product_t(self, name: str, y: torch.Tensor) -> torch.Tensor:
        """``y @ bank`` for ``y`` of shape ``(B, length)``: the backward of :meth:`_product`."""
        stored = self._stored(name)
        if stored.dtype == y.dtype:
            return y @ stored
        if name in self.quantised:
            y = y * getattr(self, f'scale_{name}').to(y.dtype)
        out = y.new_zeros(y.shape[0], stored.shape[1])
        for slots in self._chunk_slices(name):
            rows = _converted(stored[slots], y.dtype)
            out += y[:, slots] @ rows
            del rows  # released before the next chunk is converted
        return out

    def _rows(self, name: str, slots: slice) -> torch.Tensor:
        """Copy of the rows at ``slots``, dequantised, at least float32."""
        stored = self._stored(name)
        rows = stored[slots].to(torch.promote_types(stored.dtype, torch.float32), copy=True)
        if name in self.quantised:
            rows = rows * getattr(self, f'scale_{name}')[slots, None]
        return rows


def _quantise(rows: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """int8 rows and their float32 scales: the largest coordinate of a row maps to +-127."""
    rows = rows.float()
    scale = rows.abs().amax(dim=1).clamp_min(1e-12) / 127
    return torch.round(rows / scale[:, None]).to(torch.int8), scale


class _BankProduct(torch.autograd.Function):
    """``query @ bank^T`` whose backward survives the step's enqueue.

    Autograd would otherwise have to keep the whole bank as it was (MoCo
    clones its queue every step). With ``B_new`` the rows written at ``slots``
    after the forward and ``B_old`` the saved ones, the gradient
    ``G @ bank_forward`` equals ``G @ bank_now + G[:, slots] (B_old - B_new)``.
    """

    @staticmethod
    def forward(ctx, query, memory, name, batch_size):
        if ctx.needs_input_grad[0]:
            # Only here is the pointer read (a device sync on GPU): ranking needs no slots.
            ctx.memory, ctx.name, ctx.query_dtype = memory, name, query.dtype
            ctx.slots = memory.next_slots(batch_size)
            # Plain attribute, not save_for_backward: the slots will be written.
            ctx.old_rows = memory._rows(name, ctx.slots)
        return memory._product(name, query)

    @staticmethod
    def backward(ctx, grad):
        memory, name, slots = ctx.memory, ctx.name, ctx.slots
        new_rows = memory._rows(name, slots)
        acc = torch.promote_types(grad.dtype, new_rows.dtype)
        grad = grad.to(acc)
        grad_query = memory._product_t(name, grad).to(acc)
        grad_query += grad[:, slots] @ (ctx.old_rows - new_rows).to(acc)
        return grad_query.to(ctx.query_dtype), None, None, None
