"""BatchNorm over splits of the batch: MoCo's shuffle-BN on a single process."""

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


@MODELS.register_module('SplitBN')
class SplitBatchNorm(_BatchNorm):
    """BatchNorm whose training statistics are taken over ``num_splits``
    interleaved splits of the batch (sample ``n`` in split ``n % num_splits``).

    MoCo and MLS rely on each GPU normalising its own sub-batch and on the keys
    being shuffled across GPUs (shuffle-BN): otherwise a query and its positive
    key are normalised with statistics of the same images, and the contrastive
    loss falls through that shared batch signature instead of through what the
    images show (MoCo, Sec. 3.3). On one process a plain BN is that leak.
    With ``norm_cfg=dict(type='SplitBN', num_splits=S)`` each split stands in
    for a GPU, and the algorithms shuffle the keys across the splits
    (:func:`uses_split_batch_norm`). In eval mode, and for ``num_splits=1``,
    it is a plain BN; the state dict is the same, so a checkpoint loads into
    a plain BN for transfer. It takes ``(N, C)`` inputs (a projector's
    ``BN1d``) as well as ``(N, C, H, W)`` (a backbone's ``BN2d``): a BN in the
    projection normalises the keys over their batch too, the same leak.

    Args:
        num_features (int): Channels.
        num_splits (int): Splits of the batch, i.e. emulated GPUs. The batch
            size must be a multiple of it. Defaults to 1.
        **kwargs: The other arguments of ``nn.BatchNorm2d``.
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() not in (2, 3, 4, 5):
            raise ValueError(f'SplitBN: expected a 2-D to 5-D input (N, C, ...), got {x.dim()}-D')

    def __init__(self, num_features: int, num_splits: int = 1, **kwargs) -> None:
        super().__init__(num_features, **kwargs)
        if num_splits < 1:
            raise ValueError(f'SplitBN: num_splits must be >= 1, got {num_splits}')
        self.num_splits = num_splits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.num_splits == 1:
            return super().forward(x)
        self._check_input_dim(x)
        n, c, *rest = x.shape
        s = self.num_splits
        if n % s:
            raise ValueError(
                f'SplitBN: a batch of {n} does not split into num_splits={s}; make the '
                'batch size a multiple of norm_cfg.num_splits'
            )
        tracked = self.track_running_stats
        momentum = self.momentum
        if tracked:
            self.num_batches_tracked.add_(1)
            if momentum is None:  # cumulative average, as nn.BatchNorm2d
                momentum = 1.0 / float(self.num_batches_tracked)
        # (N, C, ...) -> (N / S, S * C, ...): channel j * C + c is channel c of split j.
        mean = self.running_mean.repeat(s) if tracked else None
        var = self.running_var.repeat(s) if tracked else None
        out = F.batch_norm(
            x.reshape(n // s, s * c, *rest),
            mean,
            var,
            self.weight.repeat(s) if self.affine else None,
            self.bias.repeat(s) if self.affine else None,
            True,
            momentum or 0.0,
            self.eps,
        )
        if tracked:  # the splits' running statistics, averaged
            with torch.no_grad():
                self.running_mean.copy_(mean.view(s, c).mean(0))
                self.running_var.copy_(var.view(s, c).mean(0))
        return out.view(n, c, *rest)


def uses_split_batch_norm(module: nn.Module) -> bool:
    """Whether ``module`` normalises over splits, so keys must be shuffled across them."""
    return any(isinstance(m, SplitBatchNorm) and m.num_splits > 1 for m in module.modules())
