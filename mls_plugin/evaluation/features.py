"""Frozen backbone features of a labelled dataset."""

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.dist import collect_results, get_rank
from torch.utils.data import DataLoader


@torch.no_grad()
def extract_features(
    model: torch.nn.Module,
    dataloader: DataLoader,
    num_classes: int,
    backbone: Optional[torch.nn.Module] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Average-pooled last-stage backbone features and multi-hot labels.

    The model is put in eval mode for the pass and restored afterwards, so
    this can run in the middle of training. Under DDP each rank encodes its
    share of the data and the results are collected in dataset order.

    Args:
        model (nn.Module): An mmpretrain model with ``data_preprocessor`` and
            ``backbone`` (MLS, MoCo, a classifier), not wrapped.
        dataloader (DataLoader): Single-view batches collated with
            ``default_collate``, whose data samples carry ``gt_label`` (e.g.
            ``CocoMultiLabelDataset`` + ``PackInputs``).
        num_classes (int): Number of categories ``C``.
        backbone (nn.Module, optional): The encoder to use instead of
            ``model.backbone``, e.g. the momentum encoder
            ``model.target_net.module[0]``. Defaults to None.

    Returns:
        tuple[Tensor, Tensor]: ``(N, d)`` float32 features (not normalised) and
        ``(N, C)`` float32 multi-hot labels, on the CPU; on ranks other than 0
        under DDP, two empty tensors.
    """
    was_training = model.training
    model.eval()
    results = []
    try:
        for data in dataloader:
            data = model.data_preprocessor(data, False)
            if not isinstance(data['inputs'], torch.Tensor):
                raise TypeError(
                    'extract_features needs single-view batches collated into one tensor: set '
                    "the dataloader's collate_fn=dict(type='default_collate')"
                )
            feat = (backbone or model.backbone)(data['inputs'])[-1]
            feat = F.adaptive_avg_pool2d(feat, 1).flatten(1).float().cpu()
            for row, sample in zip(feat, data['data_samples']):
                label = torch.zeros(num_classes)
                label[sample.gt_label.cpu().long()] = 1.0
                results.append((row, label))
    finally:
        model.train(was_training)
    results = collect_results(results, len(dataloader.dataset), device='cpu')
    if get_rank() != 0:
        return torch.empty(0), torch.empty(0)
    feats, labels = zip(*results)
    return torch.stack(feats), torch.stack(labels)
