"""How often MLS's pseudo-positives share a category with their query."""

from typing import NamedTuple

import torch


class PseudoLabelCounts(NamedTuple):
    """Sums from which the precision of one or more batches is computed.

    Sums rather than ratios, so that batches and ranks add up exactly.

    Attributes:
        hits: Pseudo-positives sharing a category with their query.
        pairs: Pseudo-positives scored (other images, known slots).
        random_hits: Queue entries sharing a category with the query, over
            all scored (query, entry) pairs: what random entries would score.
        random_pairs: All scored (query, entry) pairs.
        self_pairs: Pseudo-positives that are an earlier key of the query's
            own image, left out of the precision (they share its categories
            trivially).
    """

    hits: float
    pairs: float
    random_hits: float
    random_pairs: float
    self_pairs: float

    @property
    def precision(self) -> float:
        return self.hits / self.pairs if self.pairs else float('nan')

    @property
    def random_precision(self) -> float:
        return self.random_hits / self.random_pairs if self.random_pairs else float('nan')

    @property
    def self_share(self) -> float:
        total = self.pairs + self.self_pairs
        return self.self_pairs / total if total else float('nan')


def shared_categories(
    labels: torch.Tensor, query_ids: torch.Tensor, queue_ids: torch.Tensor
) -> torch.Tensor:
    """Which queue slots hold an image sharing at least one category with each query's.

    Args:
        labels (Tensor): ``(N, C)`` multi-hot categories of the dataset images.
        query_ids (Tensor): ``(B,)`` rows of ``labels``; -1 for an unknown image.
        queue_ids (Tensor): ``(D,)`` rows of ``labels``; -1 for an unknown slot.

    Returns:
        Tensor: ``(B, D)`` bool, False wherever the query or the slot is unknown.
    """
    labels = labels.float()

    def rows(ids: torch.Tensor) -> torch.Tensor:
        return labels[ids.clamp(min=0)] * (ids >= 0)[:, None]

    return (rows(query_ids) @ rows(queue_ids).t()) > 0


def pseudo_label_counts(
    labels: torch.Tensor,
    query_ids: torch.Tensor,
    queue_ids: torch.Tensor,
    pos_index: torch.Tensor,
) -> PseudoLabelCounts:
    """Count the pseudo-positives that share at least one category with their query.

    Args:
        labels (Tensor): ``(N, C)`` multi-hot categories of the dataset images.
        query_ids (Tensor): ``(B,)`` image of each query, a row of ``labels``;
            -1 for an image without known labels.
        queue_ids (Tensor): ``(D,)`` image of each queue slot; -1 for a slot
            whose image is unknown (not written since the count started).
        pos_index (Tensor): ``(B, k)`` queue slots of each query's
            pseudo-positives (a labeler's output; ``-1`` pads a row with
            fewer, and is no pair).

    Returns:
        PseudoLabelCounts: Queries that are unknown or have no category are
        left out (they cannot share one), as are unknown slots and slots
        holding the query's own image. Known images without a category count
        as not sharing, for the pseudo-positives and the random share alike.
    """
    if not query_ids.shape[0] == pos_index.shape[0]:
        raise ValueError(
            f'{query_ids.shape[0]} query ids for {pos_index.shape[0]} rows of pos_index'
        )
    labels = labels.float()
    query_known = query_ids >= 0
    query_ids, pos_index = query_ids[query_known], pos_index[query_known]
    labelled = labels[query_ids].sum(dim=1) > 0
    query_ids, pos_index = query_ids[labelled], pos_index[labelled]

    slot_known = queue_ids >= 0
    shares = shared_categories(labels, query_ids, queue_ids)  # (B', D)
    same = queue_ids[None, :] == query_ids[:, None]
    scored = slot_known[None, :] & ~same
    valid = pos_index >= 0
    pos_index = pos_index.clamp(min=0)
    return PseudoLabelCounts(
        hits=float(((shares & scored).gather(1, pos_index) & valid).sum()),
        pairs=float((scored.gather(1, pos_index) & valid).sum()),
        random_hits=float((shares & scored).sum()),
        random_pairs=float(scored.sum()),
        self_pairs=float((same.gather(1, pos_index) & valid).sum()),
    )
