"""The pretraining images with their categories, one deterministic view each."""

from typing import Any, Iterable, Optional

import torch
from mmengine.config import Config
from mmengine.dataset import BaseDataset
from mmpretrain.registry import DATASETS


def _find_crop_scale(node: Any) -> Any:
    """``scale`` of the first ``RandomResizedCrop`` in a nested config, or None."""
    if isinstance(node, dict):
        if node.get('type') == 'RandomResizedCrop':
            return node.get('scale')
        children = node.values()
    elif isinstance(node, (list, tuple)):
        children = node
    else:
        return None
    for child in children:
        found = _find_crop_scale(child)
        if found is not None:
            return found
    return None


def training_crop_size(cfg: Config, default: int = 224) -> int:
    """The crop of the training views: ``RandomResizedCrop.scale`` in ``train_dataloader``.

    Args:
        cfg (Config): A pretraining config.
        default (int): The size when the pipeline has no ``RandomResizedCrop``.
            Defaults to 224.

    Returns:
        int: The crop size (the first value of a ``(w, h)`` scale).
    """
    scale = _find_crop_scale(cfg.get('train_dataloader', {}))
    if scale is None:
        return default
    return int(scale if isinstance(scale, int) else scale[0])


def build_labelled_dataset(
    cfg: Config, ann_file: Optional[str] = None, data_prefix: Optional[str] = None
) -> BaseDataset:
    """The training images of ``cfg`` as a ``CocoMultiLabelDataset``, one centre view each.

    Each image is resized (short edge) and centre-cropped to the training crop
    size (:func:`training_crop_size`), so features are those of training-sized
    views without the randomness of the augmentations.

    Args:
        cfg (Config): A pretraining config whose ``train_dataloader.dataset``
            has ``data_root``, ``ann_file`` (a COCO json) and ``data_prefix``.
        ann_file (str, optional): Another COCO json, taken as given (not under
            the config's ``data_root``). Defaults to None: the config's.
        data_prefix (str, optional): The image folder; with ``ann_file`` taken
            as given, else under the config's ``data_root``. Defaults to None:
            the config's.

    Returns:
        BaseDataset: The ``CocoMultiLabelDataset`` (``test_mode=True``).

    Raises:
        ValueError: If ``ann_file`` is None and the config's dataset has no
            COCO json.
    """
    train = cfg.get('train_dataloader', {}).get('dataset', {})
    if ann_file is None:
        ann_file, data_root = train.get('ann_file', ''), train.get('data_root', '')
        data_prefix = data_prefix or train.get('data_prefix', '')
        if not str(ann_file).endswith('.json'):
            raise ValueError(
                f'`train_dataloader.dataset.ann_file` of the config is {ann_file!r}, not a COCO '
                'json: pass --ann-file (and --data-prefix) to name the labelled images'
            )
    else:
        data_root = ''
    crop = training_crop_size(cfg)
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='ResizeEdge', scale=crop, edge='short', backend='pillow'),
        dict(type='CenterCrop', crop_size=crop),
        dict(type='PackInputs'),
    ]
    return DATASETS.build(
        dict(
            type='CocoMultiLabelDataset',
            data_root=data_root,
            ann_file=ann_file,
            data_prefix=data_prefix or '',
            pipeline=pipeline,
            test_mode=True,
        )
    )


def multi_hot(dataset: BaseDataset, indices: Iterable[int]) -> torch.Tensor:
    """``(len(indices), C)`` float multi-hot categories of ``dataset[indices]``."""
    indices = list(indices)
    labels = torch.zeros(len(indices), len(dataset.metainfo['classes']))
    for row, i in enumerate(indices):
        labels[row, dataset.get_data_info(i)['gt_label']] = 1.0
    return labels
