"""Test helper: the config of the small MLS the model tests build.

A ResNet-18 at an eighth of the width (64 output channels, ``d_g``), a 16-d projection, top-3
pseudo-positives and a queue of ``QUEUE`` (16): every mechanism of the full model at a size
that runs a step in milliseconds on one CPU core.
"""

from typing import Optional

TINY_RESNET = dict(type='ResNet', depth=18, base_channels=8)
QUEUE = 16


def tiny_mls_cfg(
    backbone: Optional[dict] = None,
    d_g: int = 64,
    memory: Optional[dict] = None,
    head: Optional[dict] = None,
    **algorithm,
) -> dict:
    """The MLS config on ``backbone`` (default :data:`TINY_RESNET`, whose last output has
    ``d_g`` channels); ``memory`` and ``head`` add keys to the queue's and the head's configs,
    ``algorithm`` to MLS's own."""
    return dict(
        type='MLS',
        backbone=backbone or dict(TINY_RESNET),
        neck=dict(
            type='MoCoV2Neck',
            in_channels=d_g,
            hid_channels=32,
            out_channels=16,
            with_avg_pool=False,
        ),
        head=dict(type='MLSHead', topk=3, **(head or {})),
        memory=dict(type='QueueMemory', length=QUEUE, banks=dict(g=d_g, z=16), **(memory or {})),
        **algorithm,
    )
