"""Mean average precision over the categories present in the evaluated set."""

import torch
from mmpretrain.evaluation import AveragePrecision


def multilabel_map(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Macro mAP in percent, over the categories with at least one positive.

    mmpretrain's ``AveragePrecision`` scores a category without positives as
    0 AP; on small evaluation sets (a few hundred images of an 80-category
    dataset) that would drag the mean down for categories that were never
    there to be found, so they are left out.

    Args:
        scores (Tensor): ``(N, C)`` scores, higher meaning more likely.
        labels (Tensor): ``(N, C)`` multi-hot ground truth.
    """
    present = labels.sum(dim=0) > 0
    if not present.any():
        raise ValueError('multilabel_map: no category has a positive example')
    return float(AveragePrecision.calculate(scores[:, present], labels[:, present]))
