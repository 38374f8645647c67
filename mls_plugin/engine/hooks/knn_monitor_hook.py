"""Track representation quality during pretraining with a kNN multi-label probe."""

from typing import Optional, Sequence

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from ...evaluation import (
    evaluated_classes,
    extract_features,
    knn_multilabel_scores,
    multilabel_map,
)


@HOOKS.register_module()
class KNNMultiLabelHook(Hook):
    """Cosine-kNN multi-label mAP of the frozen backbone on a labelled split.

    At the configured interval the current online backbone encodes a labelled
    "bank" split and a "query" split (e.g. COCO train2017 / val2017 held aside
    from the objective, or the demo scenes' train / val); each query is scored
    from its ``k`` nearest bank images (:func:`knn_multilabel_scores`) and the
    mAP over the categories present in the query split is written to the
    visualizer backends as ``knn_mAP`` and to the log. The model is put back in
    training mode afterwards; the labels never reach the loss.

    Args:
        bank_dataloader (dict): Dataloader config of the labelled bank split,
            single-view test pipeline, e.g. ``CocoMultiLabelDataset``.
        query_dataloader (dict): Dataloader config of the evaluated split.
        interval (int): Run every ``interval`` epochs (``by_epoch``) or
            iterations. Defaults to 1.
        by_epoch (bool): Count ``interval`` in epochs. Defaults to True.
        k (int): Neighbours per query. Defaults to 20.
        temperature (float): Temperature of the neighbour votes.
            Defaults to 0.07.
        before_train (bool): Also measure before the first iteration, the
            starting point of the curve. Defaults to True.
        min_positives (int): The mAP is over the categories with at least
            this many positives in the bank and in the query split.
            Defaults to 1.
        exclude_classes (list[str]): Category names left out of the mAP,
            e.g. ``['person']`` where every image holds one. Defaults to ().
    """

    priority = 'NORMAL'

    def __init__(
        self,
        bank_dataloader: dict,
        query_dataloader: dict,
        interval: int = 1,
        by_epoch: bool = True,
        k: int = 20,
        temperature: float = 0.07,
        before_train: bool = True,
        min_positives: int = 1,
        exclude_classes: Sequence[str] = (),
    ) -> None:
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'KNNMultiLabelHook: `interval` must be an int >= 1, got {interval!r}')
        if not isinstance(k, int) or k < 1:
            raise ValueError(f'KNNMultiLabelHook: `k` must be an int >= 1, got {k!r}')
        if not temperature > 0:
            raise ValueError(f'KNNMultiLabelHook: `temperature` must be > 0, got {temperature}')
        self.bank_dataloader_cfg = bank_dataloader
        self.query_dataloader_cfg = query_dataloader
        self.interval = interval
        self.by_epoch = by_epoch
        self.k = k
        self.temperature = temperature
        self.measure_before_train = before_train
        self.min_positives = min_positives
        self.exclude_classes = tuple(exclude_classes)
        self._loaders = None

    def before_train(self, runner) -> None:
        self._loaders = tuple(
            runner.build_dataloader(cfg, seed=runner.seed)
            for cfg in (self.bank_dataloader_cfg, self.query_dataloader_cfg)
        )
        classes = list(self._loaders[0].dataset.metainfo['classes'])
        unknown = [name for name in self.exclude_classes if name not in classes]
        if unknown:
            raise ValueError(
                f'KNNMultiLabelHook: `exclude_classes` {unknown} are not categories of the bank '
                f'dataset ({len(classes)} categories)'
            )
        if self.measure_before_train:
            self._measure(runner, step=runner.iter)

    def after_train_iter(
        self, runner, batch_idx: int, data_batch: Optional[dict] = None, outputs=None
    ) -> None:
        if not self.by_epoch and self.every_n_train_iters(runner, self.interval):
            self._measure(runner, step=runner.iter + 1)

    def after_train_epoch(self, runner) -> None:
        # The loop counts the finished epoch only after these hooks.
        if self.by_epoch and self.every_n_epochs(runner, self.interval):
            self._measure(runner, step=runner.iter)

    def _measure(self, runner, step: int) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        bank_loader, query_loader = self._loaders
        num_classes = len(bank_loader.dataset.metainfo['classes'])
        bank_feats, bank_labels = extract_features(model, bank_loader, num_classes)
        query_feats, query_labels = extract_features(model, query_loader, num_classes)
        if not is_main_process():
            return
        classes = list(bank_loader.dataset.metainfo['classes'])
        mask = evaluated_classes(
            [bank_labels, query_labels],
            self.min_positives,
            [classes.index(name) for name in self.exclude_classes],
            classes,
        )
        scores = knn_multilabel_scores(
            bank_feats, bank_labels, query_feats, k=self.k, temperature=self.temperature
        )
        value = multilabel_map(scores[:, mask], query_labels[:, mask])
        runner.visualizer.add_scalars(dict(knn_mAP=value), step=step)
        runner.logger.info(
            f'Iter {step}: kNN multi-label mAP {value:.2f} over {int(mask.sum())} categories '
            f'(k={self.k}, {len(query_feats)} queries, {len(bank_feats)} bank images)'
        )
