"""Frozen backbone features of a labelled dataset."""

from typing import Callable, Iterable, Iterator, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.dist import collect_results, get_rank
from torch.utils.data import DataLoader


@torch.no_grad()
def encode_batches(
    model: torch.nn.Module, batches: Iterable[dict], encode: Callable[[torch.Tensor], object]
) -> Iterator[Tuple[object, List]]:
    """The one batching core of every evaluation and analysis encoder.

    Each collated batch goes through ``model.data_preprocessor`` (the model's
    normalisation, as in training) and ``encode(inputs)``, without gradients
    and with the model in eval mode, which is restored when the iteration ends
    (so this can run in the middle of training).

    Args:
        model (nn.Module): An mmpretrain model with ``data_preprocessor``.
        batches (Iterable[dict]): Single-view batches collated with
            ``default_collate`` (a dataloader, or chunks of a dataset).
        encode (Callable): Maps the ``(B, C, H, W)`` inputs to the outputs.

    Yields:
        tuple: ``encode(inputs)`` and the batch's data samples.
    """
    was_training = model.training
    model.eval()
    try:
        for batch in batches:
            data = model.data_preprocessor(batch, False)
            if not isinstance(data['inputs'], torch.Tensor):
                raise TypeError(
                    'feature extraction needs single-view batches collated into one tensor: '
                    "set the dataloader's collate_fn=dict(type='default_collate')"
                )
            yield encode(data['inputs']), data['data_samples']
    finally:
        model.train(was_training)


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
    backbone = backbone or model.backbone

    def pooled(inputs: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(backbone(inputs)[-1], 1).flatten(1).float().cpu()

    results = []
    for feat, samples in encode_batches(model, dataloader, pooled):
        for row, sample in zip(feat, samples):
            label = torch.zeros(num_classes)
            label[sample.gt_label.cpu().long()] = 1.0
            results.append((row, label))
    results = collect_results(results, len(dataloader.dataset), device='cpu')
    if get_rank() != 0:
        return torch.empty(0), torch.empty(0)
    feats, labels = zip(*results)
    return torch.stack(feats), torch.stack(labels)
