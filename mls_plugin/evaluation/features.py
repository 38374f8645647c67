"""Frozen backbone features of a labelled dataset."""

from typing import Callable, Iterable, Iterator, List, Optional, Tuple

import torch
from mmengine.dist import all_gather, get_rank, get_world_size
from torch.utils.data import DataLoader

from ..models.utils import pool_backbone


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
        return pool_backbone(backbone, inputs).float()

    feats, labels, index = [], [], []
    for feat, samples in encode_batches(model, dataloader, pooled):
        feats.append(feat)
        label = torch.zeros(len(samples), num_classes)
        for row, sample in enumerate(samples):
            label[row, sample.gt_label.cpu().long()] = 1.0
            index.append(sample.metainfo.get('sample_idx', -1))
        labels.append(label)
    feats = torch.cat(feats) if feats else torch.zeros(0, 0)
    labels = torch.cat(labels) if labels else torch.zeros(0, num_classes)
    if get_world_size() == 1:
        return feats.cpu(), labels
    return _gather_in_dataset_order(feats, labels, torch.tensor(index), len(dataloader.dataset))


def _gather_in_dataset_order(
    feats: torch.Tensor, labels: torch.Tensor, index: torch.Tensor, size: int
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Every rank's rows on rank 0, in dataset order: one all-gather of a dense tensor.

    Each rank sends its ``(n, 1 + C + d)`` rows of dataset index, labels and features, padded
    to the longest rank's ``n``, on the communication device (the GPU under NCCL): no pickling
    and no shared folder. The sampler's padding repeats a few images; each index is kept once.
    """
    if (index < 0).any():
        raise ValueError(
            "extract_features under DDP needs each data sample's `sample_idx` (mmpretrain's "
            "PackInputs keeps it by default): add 'sample_idx' to its meta_keys"
        )
    device = feats.device
    rows = torch.cat(
        [index.to(device, torch.float64)[:, None], labels.to(device).double(), feats.double()],
        dim=1,
    )
    counts = [int(n) for n in all_gather(torch.tensor([len(rows)], device=device))]
    padded = rows.new_zeros(max(counts), rows.shape[1])
    padded[: len(rows)] = rows
    gathered = all_gather(padded)
    if get_rank() != 0:
        return torch.empty(0), torch.empty(0)
    every = torch.cat([part[:n] for part, n in zip(gathered, counts)]).cpu()
    order = every[:, 0].long()
    keep = torch.full((size,), -1, dtype=torch.long)
    keep[order] = torch.arange(len(order))  # a repeated index keeps one of its copies
    if (keep < 0).any():
        raise RuntimeError(
            f'extract_features: {int((keep < 0).sum())} of {size} images were encoded by no '
            'rank; the dataloader must cover the dataset (a DefaultSampler without drop_last)'
        )
    every = every[keep]
    num_classes = labels.shape[1]
    return every[:, 1 + num_classes :].float(), every[:, 1 : 1 + num_classes].float()
