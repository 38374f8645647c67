"""Cosine k-nearest-neighbour multi-label classification on frozen features."""

import torch
import torch.nn.functional as F


def knn_multilabel_scores(
    bank_feats: torch.Tensor,
    bank_labels: torch.Tensor,
    query_feats: torch.Tensor,
    k: int = 20,
    temperature: float = 0.07,
) -> torch.Tensor:
    """Category scores of each query from its ``k`` most similar bank images.

    Each neighbour votes for its categories with weight ``exp(cos / T)``
    (the weighted kNN of Wu et al., 2018, extended to several labels), and
    the votes are divided by the total weight, so a score is the weighted
    share of neighbours that carry the category.

    Args:
        bank_feats (Tensor): ``(N, d)`` features of the labelled images.
        bank_labels (Tensor): ``(N, C)`` their multi-hot labels.
        query_feats (Tensor): ``(M, d)`` features of the images to score.
        k (int): Neighbours per query, capped at ``N``. Defaults to 20.
        temperature (float): ``T`` of the vote weights. Defaults to 0.07.

    Returns:
        Tensor: ``(M, C)`` scores in [0, 1].
    """
    if k < 1 or temperature <= 0:
        raise ValueError(f'knn: need k >= 1 and temperature > 0, got {k} and {temperature}')
    sim = F.normalize(query_feats, dim=1) @ F.normalize(bank_feats, dim=1).t()
    top_sim, top_idx = sim.topk(min(k, bank_feats.shape[0]), dim=1)
    weights = (top_sim / temperature).softmax(dim=1)  # exp(cos / T), normalised
    return torch.einsum('mk,mkc->mc', weights, bank_labels[top_idx].float())
