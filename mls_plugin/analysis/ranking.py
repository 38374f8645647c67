"""Rank queue entries for queries as MLS's pseudo-labels do."""

from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from ..models import BaseLabeler, TopKLabeler


def rank_queue(
    queries: torch.Tensor,
    queue: torch.Tensor,
    k: int,
    query_ids: Optional[torch.Tensor] = None,
    queue_ids: Optional[torch.Tensor] = None,
    labeler: Optional[BaseLabeler] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` queue entries a pseudo-labeler picks by cosine similarity to each query.

    With ``query_ids`` and ``queue_ids`` (which image each row is), a query's
    own image is never among its entries: its other view scores high for
    reasons that say nothing about shared categories.

    Args:
        queries (Tensor): ``(B, d)`` query features, any norm.
        queue (Tensor): ``(D, d)`` queue features, any norm.
        k (int): Entries per query.
        query_ids (Tensor, optional): ``(B,)`` image ids of the queries.
            Defaults to None.
        queue_ids (Tensor, optional): ``(D,)`` image ids of the queue slots.
            Defaults to None.
        labeler (BaseLabeler, optional): The rule, e.g. a model's
            ``head.labeler``. Defaults to None: :class:`TopKLabeler`, the
            ``k`` most similar entries.

    Returns:
        tuple[Tensor, Tensor]: ``(B, k)`` cosine scores, highest first, and
        the ``(B, k)`` queue slots they belong to.

    Raises:
        ValueError: If only one of the id tensors is given, or a query has
            fewer than ``k`` entries that are not its own image.
    """
    if (query_ids is None) != (queue_ids is None):
        raise ValueError('rank_queue: pass both `query_ids` and `queue_ids`, or neither')
    scores = F.normalize(queries.float(), dim=1) @ F.normalize(queue.float(), dim=1).t()
    if query_ids is not None:
        scores[query_ids[:, None] == queue_ids[None, :]] = float('-inf')
    if k > scores.shape[1]:
        raise ValueError(f'rank_queue: k={k} but the queue has {scores.shape[1]} entries')
    slots = (labeler or TopKLabeler())(scores, k)
    top_scores, order = scores.gather(1, slots).sort(dim=1, descending=True)
    slots = slots.gather(1, order)
    if torch.isinf(top_scores).any():
        raise ValueError(
            f'rank_queue: a query has fewer than k={k} queue entries besides its own image'
        )
    return top_scores, slots
