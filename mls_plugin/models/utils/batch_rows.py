"""Moving the rows of a batch between ranks: gathering all of them, or returning each to its owner.

Shuffle-BN (MoCo) encodes the key view in an order shuffled across ranks. The queues need every
rank's keys (:func:`gather_rows`, one all-gather); a loss that compares a rank's queries with
their own keys needs only that rank's rows back (:func:`unshuffle_own_rows`, one all-to-all),
which matters for large per-image tensors such as DenseCL's dense maps: gathering them moves
``world_size`` times the data to every rank.
"""

import functools
from typing import Dict, List, Optional, Tuple

import torch
import torch.distributed as torch_dist
from mmengine.dist import all_gather, broadcast, get_rank, get_world_size
from mmengine.dist.utils import get_comm_device


def _pack(tensors: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, List[int]]:
    """``(B, ...)`` tensors flattened and concatenated into one ``(B, sum)`` tensor, detached,
    in their promoted dtype, and the width of each."""
    dtype = functools.reduce(torch.promote_types, (t.dtype for t in tensors.values()))
    flat = [t.detach().to(dtype).reshape(t.shape[0], -1) for t in tensors.values()]
    return torch.cat(flat, dim=1).contiguous(), [f.shape[1] for f in flat]


def _unpack(
    packed: torch.Tensor, widths: List[int], like: Dict[str, torch.Tensor]
) -> Dict[str, torch.Tensor]:
    parts = packed.split(widths, dim=1)
    return {n: p.reshape(-1, *t.shape[1:]) for (n, t), p in zip(like.items(), parts)}


@torch.no_grad()
def gather_rows(**tensors: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Every rank's tensors, concatenated in rank order along dim 0, through one all-gather.

    What :meth:`QueueMemory.gather` does for its banks, for any ``(B, ...)``
    tensors: they are flattened, packed into one tensor, gathered and split again.

    Args:
        **tensors: ``(B, ...)`` tensors with the same ``B``, by name.

    Returns:
        dict[str, Tensor]: ``(B x world_size, ...)`` per name, detached, in
        the promoted dtype of the inputs (the inputs as they are on one rank).
    """
    if get_world_size() == 1:
        return {name: t.detach() for name, t in tensors.items()}
    packed, widths = _pack(tensors)
    return _unpack(torch.cat(all_gather(packed), dim=0), widths, tensors)


@torch.no_grad()
def shuffle_rows(
    x: torch.Tensor, group: Optional[torch_dist.ProcessGroup] = None
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Shuffle-BN's batch shuffle across the ranks of ``group`` (all ranks if None).

    mmpretrain's ``batch_shuffle_ddp`` (the same draws: ``torch.randperm`` on the host,
    broadcast from the group's first rank), for a process group as well: with a node's ranks
    as the group, the images never leave the node.

    Args:
        x (Tensor): This rank's ``(B, ...)`` batch.
        group (ProcessGroup, optional): The ranks that shuffle together. Defaults to all.

    Returns:
        tuple[Tensor, Tensor]: This rank's ``B`` rows of the group's shuffled batch, and the
        host permutation ``idx_unshuffle`` (``(B x group size,)``) that undoes the shuffle
        (:func:`unshuffle_own_rows`).
    """
    size, rank = get_world_size(group), get_rank(group)
    batch = torch.cat(all_gather(x, group), dim=0) if size > 1 else x
    idx_shuffle = torch.randperm(batch.shape[0])
    if size > 1:
        first = torch_dist.get_global_rank(group, 0) if group is not None else 0
        broadcast(idx_shuffle, src=first, group=group)
    mine = idx_shuffle.view(size, -1)[rank]
    return batch[mine.to(batch.device)], torch.argsort(idx_shuffle)


@torch.no_grad()
def unshuffle_own_rows(
    idx_unshuffle: torch.Tensor,
    group: Optional[torch_dist.ProcessGroup] = None,
    **tensors: torch.Tensor,
) -> Dict[str, torch.Tensor]:
    """This rank's rows of the unshuffled batch, from the rows it computed on the shuffled one.

    ``idx_unshuffle`` is :func:`shuffle_rows`' (or mmpretrain's ``batch_shuffle_ddp``'s)
    host permutation, the same on every rank of ``group``: rank ``r`` of the group encoded the
    images ``idx_shuffle[r B:(r + 1) B]`` of the group's batch, with ``idx_shuffle =
    argsort(idx_unshuffle)``. Each row is sent only to the rank that owns its image (image
    ``i`` belongs to the group's rank ``i // B``), through one all-to-all whose split sizes
    follow from the permutation on the host, so no rank receives more than its own ``B``
    rows. The result equals mmpretrain's ``batch_unshuffle_ddp`` (which all-gathers every
    rank's rows first) row for row.

    Args:
        idx_unshuffle (Tensor): ``(B x group size,)`` permutation from the shuffle.
        group (ProcessGroup, optional): The group that shuffled. Defaults to all ranks.
        **tensors: ``(B, ...)`` tensors computed on this rank's shuffled rows, by name.

    Returns:
        dict[str, Tensor]: The same names, ``(B, ...)``, row ``j`` being this rank's image
        ``j``; detached, in the promoted dtype of the inputs.
    """
    world, rank = get_world_size(group), get_rank(group)
    idx_shuffle = torch.argsort(idx_unshuffle.cpu())
    batch = idx_shuffle.numel() // world
    if world == 1:
        order = idx_unshuffle.to(next(iter(tensors.values())).device)
        return {name: t.detach()[order] for name, t in tensors.items()}
    held = idx_shuffle.view(world, batch)  # held[s, j]: the image rank s encoded at row j
    owner = held // batch
    # Sent: this rank's rows grouped by owner (stable, so a receiver can predict the order).
    send = torch.argsort(owner[rank], stable=True)
    send_counts = torch.bincount(owner[rank], minlength=world).tolist()
    # Received: from each rank s in turn, the images of this rank that s holds, in s's order.
    mask = owner == rank
    recv_counts = mask.sum(dim=1).tolist()
    place = held[mask] - rank * batch
    packed, widths = _pack(tensors)
    # On the backend's device, as mmengine's collectives do (gloo: the host, also for CUDA
    # tensors; NCCL: the GPU).
    comm = get_comm_device(group)
    received = torch.empty(packed.shape, dtype=packed.dtype, device=comm)
    torch_dist.all_to_all_single(
        received,
        packed[send.to(packed.device)].to(comm),
        output_split_sizes=recv_counts,
        input_split_sizes=send_counts,
        group=group,
    )
    received = received.to(packed.device)
    own = torch.empty_like(received)
    own[place.to(packed.device)] = received
    return _unpack(own, widths, tensors)
