"""Scalars that show whether a contrastive projection is healthy or collapsing."""

from typing import Dict

import torch


@torch.no_grad()
def projection_health(
    query: torch.Tensor, queue_mean: torch.Tensor, queue_second_moment: torch.Tensor
) -> Dict[str, torch.Tensor]:
    """Describe L2-normalised queries ``z1`` against the key queue ``Q_z``.

    A projection that collapses, fully or in part, gives every image a shared
    component: the mean cosine to the queue rises, the queue's mean vector
    grows, and the spread left around it (what InfoNCE can separate images
    with) spans fewer dimensions. A query mean that points away from the
    queue's mean (``z_align < 0``) means the online encoder is moving away from
    where its lagging key encoder wrote the queue, which InfoNCE alone does
    not reward (its positive key comes from that same encoder).

    The queue enters through its first two moments
    (:meth:`QueueMemory.moments`), which are read chunk by chunk from any bank
    dtype.

    Args:
        query (Tensor): ``(B, d)`` L2-normalised queries.
        queue_mean (Tensor): ``(d,)`` mean of the ``D`` L2-normalised keys.
        queue_second_moment (Tensor): ``(d, d)`` matrix ``Q^T Q / D``.

    Returns:
        dict[str, Tensor]: Scalars (no ``loss`` in their names, so mmengine
        logs them without adding them to the loss):

        - ``z_queue_cos``: mean cosine ``mean(z1 Q_z^T)``; 0 for a spread
          queue, 1 for a collapsed one.
        - ``z_mean_norm``: norm of the batch mean of ``z1`` (about
          ``1 / sqrt(B)`` for spread queries, 1 for collapsed ones).
        - ``queue_mean_norm``: norm of the mean of ``Q_z``.
        - ``z_align``: cosine between the two means.
        - ``queue_erank``: effective rank of the centred queue, the
          exponential of the entropy of its normalised covariance spectrum
          (Roy & Vetterli, 2007), between 1 and ``d``.
    """
    query_mean = query.float().mean(dim=0)
    queue_mean = queue_mean.float()
    covariance = queue_second_moment.float() - torch.outer(queue_mean, queue_mean)
    eigvals = torch.linalg.eigvalsh(covariance).clamp(min=0)
    spectrum = eigvals / eigvals.sum().clamp(min=torch.finfo(eigvals.dtype).tiny)
    entropy = -(spectrum * spectrum.clamp(min=1e-12).log()).sum()
    align = torch.dot(query_mean, queue_mean) / (query_mean.norm() * queue_mean.norm()).clamp(
        min=1e-12
    )
    return dict(
        z_queue_cos=torch.dot(query_mean, queue_mean),
        z_mean_norm=query_mean.norm(),
        queue_mean_norm=queue_mean.norm(),
        z_align=align,
        queue_erank=entropy.exp(),
    )
