"""The VOC07 SVM classification protocol of the self-supervised lineage.

FAIR's self-supervision benchmark, then OpenSelfSup, DenseCL and mmselfsup's
``svm_voc07``: each image is resized (short side 256, then the whole image squashed to
224 x 224: the config's pipeline), the frozen backbone's last stage (res5, 7 x 7 at 224 px) is
average-pooled with a 6 x 6 kernel at stride 1 to 2 x 2 and flattened (8192-d for a
ResNet-50; ``pool='lineage'``; ``pool='adaptive'`` is an adaptive 2 x 2 pool, this project's
earlier choice, for inputs of other sizes), each row is divided by its L2 norm
+ 1e-5, and one linear SVM per class is fitted with scikit-learn's
``LinearSVC`` (:data:`SVM_KWARGS`) for every cost. The cost with the best mean
k-fold cross-validation AP on trainval (scikit-learn's ``average_precision``
scorer, stratified folds in file order) is refitted on the whole of trainval
and scored on test. A difficult-only label (VOC's 0) is a negative for
training and is left out of the test AP, as in that lineage.

scikit-learn and joblib are imported when an SVM is fitted, so that
:func:`voc_ap` and the feature extraction work without them.
"""

import warnings
from dataclasses import dataclass
from typing import Dict, Iterable, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..evaluation import encode_batches

# The lineage's costs: the list its scripts pass (1, 10, 100) plus the 2^-4 ... 2^-19 that its
# svm_helper.parse_cost_list always appends.
LINEAGE_COSTS = (1.0, 10.0, 100.0) + tuple(0.5**k for k in range(4, 20))
# LinearSVC as the lineage builds it; random_state (unset there) is added for repeatability.
SVM_KWARGS = dict(
    class_weight={1: 2, -1: 1},
    intercept_scaling=1.0,
    penalty='l2',
    loss='squared_hinge',
    tol=1e-4,
    dual=True,
    max_iter=2000,
)


POOLS = ('lineage', 'adaptive')


def pool_res5(feat: torch.Tensor, pool: str = 'lineage', pool_size: int = 2) -> torch.Tensor:
    """Pool a ``(N, C, H, W)`` res5 map into the SVM's ``(N, C * 4)`` features.

    ``'lineage'``: ``AvgPool2d(6, stride=1)`` as OpenSelfSup / DenseCL / mmselfsup, which
    gives 2 x 2 on the 7 x 7 map of a 224 px input (another size is refused: the lineage's
    feature is defined on 224 px). ``'adaptive'``: ``adaptive_avg_pool2d`` to
    ``pool_size`` x ``pool_size``, whatever the map's size.
    """
    if pool == 'lineage':
        if feat.shape[2:] != (7, 7):
            raise ValueError(
                f"svm pool='lineage' pools a 7 x 7 res5 map (224 px inputs) with a 6 x 6 kernel, "
                f'got {tuple(feat.shape[2:])}; resize the images to 224 x 224 or set '
                "svm.pool='adaptive'"
            )
        return F.avg_pool2d(feat, kernel_size=6, stride=1).flatten(1)
    if pool == 'adaptive':
        return F.adaptive_avg_pool2d(feat, pool_size).flatten(1)
    raise ValueError(f'svm `pool` must be one of {POOLS}, got {pool!r}')


def extract_svm_features(
    model: torch.nn.Module,
    dataloader: Iterable[dict],
    num_classes: int,
    pool: str = 'lineage',
    pool_size: int = 2,
    backbone: Optional[torch.nn.Module] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """L2-normalised, pooled last-stage features and VOC-style labels.

    Args:
        model (nn.Module): An mmpretrain model with ``data_preprocessor`` and
            ``backbone``, not wrapped.
        dataloader (Iterable[dict]): Single-view batches collated with
            ``default_collate``, whose data samples carry ``gt_label`` and,
            for VOC, ``gt_label_difficult``.
        num_classes (int): Number of categories ``C``.
        pool (str): ``'lineage'`` (6 x 6 kernel, stride 1, on a 7 x 7 map) or
            ``'adaptive'`` (:func:`pool_res5`). Defaults to 'lineage'.
        pool_size (int): Side of the adaptive pool. Defaults to 2.
        backbone (nn.Module, optional): The encoder to use instead of
            ``model.backbone``. Defaults to None.

    Returns:
        tuple[Tensor, Tensor]: ``(N, c * 4)`` float32 features of unit norm
        (``c * pool_size ** 2`` with the adaptive pool) and ``(N, C)`` int8
        labels: 1 present, -1 only difficult objects of the class, 0 absent;
        on the CPU.
    """
    backbone = backbone or model.backbone
    if pool not in POOLS:
        raise ValueError(f'svm `pool` must be one of {POOLS}, got {pool!r}')

    def pooled(inputs: torch.Tensor) -> torch.Tensor:
        feat = pool_res5(backbone(inputs)[-1], pool, pool_size).float()
        return (feat / (feat.norm(dim=1, keepdim=True) + 1e-5)).cpu()

    feats, labels = [], []
    for feat, samples in encode_batches(model, dataloader, pooled):
        feats.append(feat)
        for sample in samples:
            label = torch.zeros(num_classes, dtype=torch.int8)
            difficult = sample.get('gt_label_difficult')
            if difficult is not None:
                label[torch.as_tensor(list(difficult), dtype=torch.long)] = -1
            label[sample.gt_label.cpu().long()] = 1
            labels.append(label)
    return torch.cat(feats), torch.stack(labels)


def voc_ap(scores: Sequence[float], labels: Sequence[int], eleven_point: bool = False) -> float:
    """Average precision of one class, in [0, 1].

    Examples are ranked by score, ties in input order; labels -1 (difficult)
    are left out. The default is the all-point interpolated AP of the
    lineage's ``svm_helper`` (and of the VOC devkit from 2010): the area under
    the precision-recall curve once each precision is replaced by the highest
    precision at an equal or higher recall. ``eleven_point`` gives the VOC2007
    devkit's AP: the mean over the recall thresholds 0, 0.1, ..., 1 of the
    highest precision at a recall of at least the threshold (0 if none),
    thresholds compared with a 1e-9 tolerance (3 hits of 10 reach 0.3).

    Args:
        scores (Sequence[float]): ``(N,)`` scores, higher meaning present.
        labels (Sequence[int]): ``(N,)`` labels: 1 positive, 0 negative,
            -1 ignored.
        eleven_point (bool): The VOC2007 11-point AP. Defaults to False.

    Raises:
        ValueError: If no example is positive.
    """
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    keep = labels != -1
    hits = (labels[keep] == 1)[np.argsort(-scores[keep], kind='stable')]
    if not hits.any():
        raise ValueError('voc_ap: no positive example, AP is undefined')
    tp = np.cumsum(hits)
    precision = tp / np.arange(1, len(hits) + 1)
    recall = tp / tp[-1]
    if eleven_point:
        return float(np.mean([precision[recall >= t - 1e-9].max() for t in np.linspace(0, 1, 11)]))
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * envelope))


@dataclass
class ClassSVM:
    """One class's SVM: the chosen cost, the mean CV AP of every cost, the fit."""

    cost: float
    cv_ap: Dict[float, float]
    svm: object
    not_converged: int


def fit_class_svm(
    feats: np.ndarray, targets: np.ndarray, costs: Sequence[float], folds: int = 3, seed: int = 0
) -> ClassSVM:
    """Choose the cost by k-fold CV AP, then refit on all of ``feats``.

    Args:
        feats (ndarray): ``(N, d)`` features.
        targets (ndarray): ``(N,)`` labels in {1, -1}.
        costs (Sequence[float]): The ``C`` values to try; the first of the
            best wins a tie.
        folds (int): Stratified folds (scikit-learn's, no shuffling).
            Defaults to 3.
        seed (int): ``random_state`` of ``LinearSVC``. Defaults to 0.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import cross_val_score
    from sklearn.svm import LinearSVC

    cv_ap = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always', ConvergenceWarning)
        for cost in costs:
            svm = LinearSVC(C=cost, random_state=seed, **SVM_KWARGS)
            aps = cross_val_score(
                svm, feats, targets, cv=folds, scoring='average_precision', error_score='raise'
            )
            cv_ap[cost] = float(aps.mean())
        best = max(costs, key=cv_ap.__getitem__)
        svm = LinearSVC(C=best, random_state=seed, **SVM_KWARGS).fit(feats, targets)
    not_converged = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    for w in caught:
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn(w.message, w.category, stacklevel=2)
    return ClassSVM(best, cv_ap, svm, not_converged)


def svm_voc07(
    train_feats: torch.Tensor,
    train_labels: torch.Tensor,
    test_feats: torch.Tensor,
    test_labels: torch.Tensor,
    classes: Sequence[str],
    costs: Sequence[float] = LINEAGE_COSTS,
    folds: int = 3,
    n_jobs: int = 1,
    seed: int = 0,
) -> dict:
    """Per-class SVMs on trainval, scored on test: the protocol's whole result.

    A class is fitted when trainval holds at least ``folds`` positives and
    ``folds`` negatives and test holds a positive; the others are listed under
    ``skipped`` and the means are over the fitted ones (all 20 on VOC07).

    Args:
        train_feats, test_feats (Tensor): ``(N, d)`` features
            (:func:`extract_svm_features`).
        train_labels, test_labels (Tensor): ``(N, C)`` labels in {1, 0, -1}.
        classes (Sequence[str]): The ``C`` class names.
        costs (Sequence[float]): Costs to choose from per class. Defaults to
            :data:`LINEAGE_COSTS`.
        folds (int): Cross-validation folds. Defaults to 3.
        n_jobs (int): Classes fitted in parallel (joblib; -1: all CPUs).
            Defaults to 1.
        seed (int): ``random_state`` of the SVMs. Defaults to 0.

    Returns:
        dict: ``mAP`` and ``mAP_11point`` in percent, ``classes`` (per fitted
        class: ``ap``, ``ap_11point``, ``cost``, ``cv_ap`` per cost in percent,
        positives, non-converged fits), ``skipped`` (class: reason).
    """
    try:
        import sklearn  # noqa: F401
        from joblib import Parallel, delayed
    except ImportError as err:
        raise ImportError(
            f'svm_voc07 needs scikit-learn ({err}): pip install -r requirements/runtime.txt'
        ) from err

    x_train = np.ascontiguousarray(np.asarray(train_feats, dtype=np.float64))
    x_test = np.asarray(test_feats, dtype=np.float64)
    y_train, y_test = np.asarray(train_labels), np.asarray(test_labels)
    pos, neg = (y_train == 1).sum(0), (y_train != 1).sum(0)
    test_pos = (y_test == 1).sum(0)
    skipped, fitted = {}, []
    for c, name in enumerate(classes):
        if min(pos[c], neg[c]) < folds:
            skipped[name] = f'trainval has {pos[c]} positives, {neg[c]} negatives (< {folds} folds)'
        elif test_pos[c] == 0:
            skipped[name] = 'test has no positive'
        else:
            fitted.append(c)
    if not fitted:
        raise ValueError(f'svm_voc07: no class can be fitted and scored: {skipped}')
    targets = np.where(y_train == 1, 1, -1)
    fits = Parallel(n_jobs=n_jobs)(
        delayed(fit_class_svm)(x_train, targets[:, c], costs, folds, seed) for c in fitted
    )
    per_class = {}
    for c, fit in zip(fitted, fits):
        scores = fit.svm.decision_function(x_test)
        per_class[classes[c]] = dict(
            ap=100 * voc_ap(scores, y_test[:, c]),
            ap_11point=100 * voc_ap(scores, y_test[:, c], eleven_point=True),
            cost=fit.cost,
            cv_ap={repr(k): 100 * v for k, v in fit.cv_ap.items()},
            trainval_positives=int(pos[c]),
            test_positives=int(test_pos[c]),
            not_converged=fit.not_converged,
        )
    return dict(
        mAP=float(np.mean([r['ap'] for r in per_class.values()])),
        mAP_11point=float(np.mean([r['ap_11point'] for r in per_class.values()])),
        classes=per_class,
        skipped=skipped,
    )
