"""The backbone feature ``g``: a backbone's last output, checked to be a map, average-pooled."""

import torch
import torch.nn as nn
import torch.nn.functional as F


def backbone_featmap(backbone: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """The last output of an mmpretrain backbone, refused unless a ``(B, C, H, W)`` map.

    Raises:
        ValueError: If the last output is not 4-d (e.g. a ViT's class token), with what to set.
    """
    feat = backbone(inputs)[-1]
    if feat.dim() != 4:
        raise ValueError(
            "the backbone's last output must be a (B, C, H, W) feature map to pool into g, got "
            f'shape {tuple(feat.shape)} from {type(backbone).__name__}; e.g. set '
            "out_type='featmap' for a VisionTransformer"
        )
    return feat


def pool_featmap(feat: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W) -> (B, C)``: the global average pool that makes ``g``."""
    return F.adaptive_avg_pool2d(feat, 1).flatten(1)


def pool_backbone(backbone: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """``g`` of any mmpretrain backbone (MLS, MoCo, a classifier, a momentum encoder's),
    ``(B, C)``, with gradient where the caller has it."""
    return pool_featmap(backbone_featmap(backbone, inputs))
