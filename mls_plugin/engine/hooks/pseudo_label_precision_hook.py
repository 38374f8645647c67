"""Log how often MLS's pseudo-positives share a category with their query."""

import os.path as osp
from typing import Dict, Optional, Sequence

import torch
from mmengine.dist import all_gather, all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from ...datasets import CocoMultiLabelDataset
from ...evaluation import pseudo_label_counts


@HOOKS.register_module()
class PseudoLabelPrecisionHook(Hook):
    """Measure the top-k pseudo-labels of MLS against ground-truth categories.

    Every ``interval`` iterations the pseudo-positives of the current batch
    (what the head's labeler gives, observed by
    :meth:`BaseLabeler.observe`: the ``k`` queue entries nearest to each query in
    backbone space) are compared with the categories of the images
    they come from. Two scalars go to the visualizer backends (``scalars.json``,
    TensorBoard, ...) and to the log:

    - ``pl_precision``: the share of pseudo-positives that share at least one
      category with their query;
    - ``pl_precision_random``: the same share over all queue entries, i.e. the
      precision of ``k`` entries drawn at random. The gap between the two is
      what the backbone features contribute;
    - ``pl_self_share``: the share of pseudo-positives that are an earlier key
      of the query's own image (possible when the queue is longer than an
      epoch), left out of both precisions.

    The labels are read from a COCO json for this measurement only; the model
    never sees them. To know which image each queue slot holds, the hook keeps
    the dataset identity of every enqueued key in a FIFO mirroring the model's
    queue (gathered over ranks like the keys), and saves it in checkpoints so
    that a resumed run measures from its first iteration. Slots written before
    the hook started are left out. With the BCE term off (the InfoNCE-only
    baseline) the head still ranks the queue for this measurement, so the
    baseline's features can be scored the same way.

    Args:
        interval (int): Measure every ``interval`` iterations. Defaults to 50.
        ann_file (str, optional): COCO instances json whose ``file_name``
            entries, joined with the training dataset's ``data_prefix``, name
            the training images. Defaults to None: the training dataset's own
            ``ann_file``.
        exclude_classes (list[str]): Category names that do not count as
            shared, e.g. ``['person']`` on a set where every image holds one
            (every pair would share it). Defaults to ().
    """

    priority = 'NORMAL'

    def __init__(
        self,
        interval: int = 50,
        ann_file: Optional[str] = None,
        exclude_classes: Sequence[str] = (),
    ) -> None:
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(
                f'PseudoLabelPrecisionHook: `interval` must be an int >= 1, got {interval!r}'
            )
        self.interval = interval
        self.ann_file = ann_file
        self.exclude_classes = tuple(exclude_classes)
        self._label_index: Dict[str, int] = {}
        self._labels: Optional[torch.Tensor] = None
        self._slot_ids: Optional[torch.Tensor] = None
        self._positives: Optional[torch.Tensor] = None
        self._observer = None

    @staticmethod
    def _mls(runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not (hasattr(model, 'memory') and hasattr(model.head, 'labeler')):
            raise TypeError(
                'PseudoLabelPrecisionHook needs an MLS model (a `memory` and an MLSHead), got '
                f'{type(model).__name__}'
            )
        return model

    def before_train(self, runner) -> None:
        model = self._mls(runner)
        dataset = runner.train_dataloader.dataset
        ann_file = self.ann_file or getattr(dataset, 'ann_file', '')
        if not ann_file or not ann_file.endswith('.json'):
            raise ValueError(
                'PseudoLabelPrecisionHook: the training dataset has no COCO json; set `ann_file` '
                'of the hook to one that lists the training images'
            )
        if not osp.isfile(ann_file):
            raise FileNotFoundError(f'PseudoLabelPrecisionHook: `ann_file` not found: {ann_file}')
        coco = CocoMultiLabelDataset(
            ann_file=ann_file, data_prefix=getattr(dataset, 'img_prefix', ''), pipeline=[]
        )
        classes = list(coco.metainfo['classes'])
        unknown = [name for name in self.exclude_classes if name not in classes]
        if unknown:
            raise ValueError(
                f'PseudoLabelPrecisionHook: `exclude_classes` {unknown} are not categories of '
                f'{ann_file}'
            )
        self._labels = torch.zeros(len(coco), len(classes))
        for i in range(len(coco)):
            info = coco.get_data_info(i)
            self._labels[i, info['gt_label']] = 1.0
            self._label_index[info['img_path']] = i
        self._labels[:, [classes.index(name) for name in self.exclude_classes]] = 0.0
        if self._slot_ids is None or self._slot_ids.numel() != model.memory.length:
            self._slot_ids = torch.full((model.memory.length,), -1, dtype=torch.long)
        self._observer = model.head.labeler.observe(self._keep)

    def _keep(self, positives: torch.Tensor) -> None:
        self._positives = positives

    def after_train(self, runner) -> None:
        if self._observer is not None:
            self._observer.remove()
            self._observer = None

    def after_train_iter(
        self, runner, batch_idx: int, data_batch: Optional[dict] = None, outputs=None
    ) -> None:
        model = self._mls(runner)
        samples = data_batch['data_samples']
        ids = torch.tensor([self._label_index.get(s.img_path, -1) for s in samples])
        if self.every_n_train_iters(runner, self.interval):
            self._measure(runner, model, ids)
        # The keys of this step were just written in front of the pointer (its host copy: no
        # wait for the device). One process holds every key itself: no collective, no copy.
        if get_world_size() > 1:
            device = model.memory.ptr.device
            written = torch.cat(all_gather(ids.to(device))).cpu()
        else:
            written = ids
        start = (model.memory.pointer - written.numel()) % model.memory.length
        self._slot_ids[start : start + written.numel()] = written

    def _measure(self, runner, model, ids: torch.Tensor) -> None:
        pos_index = self._positives
        if pos_index is None:
            return
        counts = pseudo_label_counts(self._labels, ids, self._slot_ids, pos_index.cpu())
        total = torch.tensor(list(counts), dtype=torch.float64, device=model.memory.ptr.device)
        if get_world_size() > 1:
            all_reduce(total)  # sums over ranks, in place
        total = type(counts)(*total.tolist())
        if not total.pairs:
            return
        scalars = dict(
            pl_precision=total.precision,
            pl_precision_random=total.random_precision,
            pl_self_share=total.self_share,
        )
        runner.visualizer.add_scalars(scalars, step=runner.iter + 1)
        runner.logger.info(
            f'Iter {runner.iter + 1}: pseudo-label precision {total.precision:.4f} '
            f'(random queue entries: {total.random_precision:.4f}; '
            f"{total.self_share:.1%} of the pseudo-positives were the query's own image, "
            'left out)'
        )

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._slot_ids is not None:
            checkpoint['pseudo_label_slot_ids'] = self._slot_ids.clone()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'pseudo_label_slot_ids' in checkpoint:
            # Kept on the CPU, where the labels it indexes live (mmengine may load onto the GPU).
            self._slot_ids = checkpoint['pseudo_label_slot_ids'].detach().to('cpu', torch.long)
