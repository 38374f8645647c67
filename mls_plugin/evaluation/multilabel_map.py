"""Mean average precision over the categories present in the evaluated set."""

from typing import Optional, Sequence

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


def evaluated_classes(
    labels: Sequence[torch.Tensor],
    min_positives: int = 1,
    exclude: Sequence[int] = (),
    classes: Optional[Sequence[str]] = None,
) -> torch.Tensor:
    """The categories a mean is taken over, as a boolean mask.

    A category counts when it has at least ``min_positives`` positives in
    every one of the given label sets (e.g. the kNN bank and the queries:
    an AP from three positives, or a neighbour vote from an empty bank
    column, is noise) and is not excluded (e.g. ``person`` on a set where
    every image holds one, which carries no information).

    Args:
        labels (list[Tensor]): ``(N_i, C)`` multi-hot label sets.
        min_positives (int): Positives a category needs in each set.
            Defaults to 1.
        exclude (list[int]): Category indices to leave out. Defaults to ().
        classes (list[str], optional): Category names, only for the error
            message.
    """
    if min_positives < 1:
        raise ValueError(f'evaluated_classes: `min_positives` must be >= 1, got {min_positives}')
    mask = torch.ones(labels[0].shape[1], dtype=torch.bool)
    for label_set in labels:
        mask &= label_set.sum(dim=0) >= min_positives
    mask[list(exclude)] = False
    if not mask.any():
        names = f' of {len(classes)} ({", ".join(classes[:5])}, ...)' if classes else ''
        raise ValueError(
            f'evaluated_classes: no category{names} has {min_positives} positives in every '
            'split once the excluded ones are left out; lower `min_positives`'
        )
    return mask
