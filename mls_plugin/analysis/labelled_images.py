"""The pretraining images with their categories, one deterministic view each."""

from typing import Iterable, Optional

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmpretrain.registry import DATASETS


def _crop_size(cfg: Config) -> int:
    """The training crop: ``scale`` of the first ``RandomResizedCrop`` in the config."""

    def find(node):
        if isinstance(node, dict):
            if node.get('type') == 'RandomResizedCrop':
                return node.get('scale')
            nodes = node.values()
        elif isinstance(node, (list, tuple)):
            nodes = node
        else:
            return None
        for child in nodes:
            found = find(child)
            if found is not None:
                return found
        return None

    scale = find(cfg.get('train_dataloader', {}))
    return int(scale if isinstance(scale, int) else (scale or [224])[0])


def build_labelled_dataset(
    cfg: Config, ann_file: Optional[str] = None, data_prefix: Optional[str] = None
):
    """The training images of ``cfg`` as a ``CocoMultiLabelDataset``.

    Each image is resized (short edge) and centre-cropped to the training
    crop size. The categories come from the training dataset's COCO json, or
    from ``ann_file`` (then paths are taken as given, with ``data_prefix``).
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
    crop = _crop_size(cfg)
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


@torch.no_grad()
def encode_images(
    model: torch.nn.Module,
    dataset,
    indices: Iterable[int],
    backbone: Optional[torch.nn.Module] = None,
    batch_size: int = 32,
    normalize: bool = True,
) -> torch.Tensor:
    """Pooled backbone features ``g`` of ``dataset[indices]``, L2-normalised by default.

    ``backbone`` defaults to the online ``model.backbone``.
    """
    backbone = backbone or model.backbone
    indices = list(indices)
    feats = []
    for start in range(0, len(indices), batch_size):
        batch = default_collate([dataset[i] for i in indices[start : start + batch_size]])
        inputs = model.data_preprocessor(batch, False)['inputs']
        feat = F.adaptive_avg_pool2d(backbone(inputs)[-1], 1).flatten(1)
        feats.append(F.normalize(feat.float(), dim=1) if normalize else feat.float())
    return torch.cat(feats)


def multi_hot(dataset, indices: Iterable[int]) -> torch.Tensor:
    """``(len(indices), C)`` multi-hot categories of ``dataset[indices]``."""
    indices = list(indices)
    labels = torch.zeros(len(indices), len(dataset.metainfo['classes']))
    for row, i in enumerate(indices):
        labels[row, dataset.get_data_info(i)['gt_label']] = 1.0
    return labels
