"""Encode labelled images with the online or the momentum branch of an MLS model."""

from typing import Iterable, Tuple

import torch
import torch.nn as nn
from mmengine.dataset import BaseDataset, default_collate

from ..evaluation import encode_batches


def _encode(
    model: nn.Module, dataset: BaseDataset, indices: Iterable[int], branch: str, batch_size: int
) -> Tuple[torch.Tensor, torch.Tensor]:
    if not hasattr(model, 'encode'):
        raise TypeError(f'{type(model).__name__} is not an MLS model (it has no `encode`)')
    indices = list(indices)
    chunks = (
        default_collate([dataset[i] for i in indices[start : start + batch_size]])
        for start in range(0, len(indices), batch_size)
    )
    # MLS's own definition of g and z, so the analysis sees what training ranks.
    encoded = [gz for gz, _ in encode_batches(model, chunks, lambda x: model.encode(x, branch))]
    gs, zs = zip(*encoded)
    return torch.cat(gs).float(), torch.cat(zs).float()


def encode_online(
    model: nn.Module, dataset: BaseDataset, indices: Iterable[int], batch_size: int = 32
) -> Tuple[torch.Tensor, torch.Tensor]:
    """The queries' ``(g1, z1)`` of ``dataset[indices]``, by the online backbone and neck.

    Args:
        model (nn.Module): An MLS model (put in eval mode for the pass).
        dataset (BaseDataset): Single-view samples packed by ``PackInputs``.
        indices (Iterable[int]): The samples to encode, in this order.
        batch_size (int): Images per forward pass. Defaults to 32.

    Returns:
        tuple[Tensor, Tensor]: ``(N, d_g)`` pooled backbone features (not
        normalised) and ``(N, d_z)`` L2-normalised projections, float32.
    """
    return _encode(model, dataset, indices, 'online', batch_size)


def encode_key(
    model: nn.Module, dataset: BaseDataset, indices: Iterable[int], batch_size: int = 32
) -> Tuple[torch.Tensor, torch.Tensor]:
    """The keys' ``(g2, z2)`` of ``dataset[indices]``, by the momentum encoder.

    What training writes into the queue, before the queue L2-normalises ``g2``.
    Arguments and returns as :func:`encode_online`.
    """
    return _encode(model, dataset, indices, 'key', batch_size)
