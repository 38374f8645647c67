"""Scalars that show whether a contrastive projection is healthy or collapsing."""

from typing import Dict

import torch


@torch.no_grad()
def projection_health(query: torch.Tensor, queue: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Describe L2-normalised queries ``z1`` against the key queue ``Q_z``.

    A projection that collapses, fully or in part, gives every image a shared
    component: the mean cosine to the queue rises, the queue's mean vector
    grows, and the spread left around it (what InfoNCE can separate images
    with) spans fewer dimensions. A query mean that points away from the
    queue's mean (``z_align < 0``) means the online encoder is moving away from
    where its lagging key encoder wrote the queue, which InfoNCE alone does
    not reward (its positive key comes from that same encoder).

    Args:
        query (Tensor): ``(B, d)`` L2-normalised queries.
        queue (Tensor): ``(D, d)`` L2-normalised keys.

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
    query = query.float()
    queue = queue.float()
    query_mean = query.mean(dim=0)
    queue_mean = queue.mean(dim=0)
    centred = queue - queue_mean
    eigvals = torch.linalg.eigvalsh(centred.T @ centred).clamp(min=0)
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
