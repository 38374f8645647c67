"""Test helper: one training step's losses and gradients compared between two memory layouts."""

from typing import Dict

import torch


def assert_same_step(
    plain_losses: Dict[str, torch.Tensor],
    fast_losses: Dict[str, torch.Tensor],
    plain_grads: Dict[str, torch.Tensor],
    fast_grads: Dict[str, torch.Tensor],
) -> None:
    """Losses within 1e-4 relative; each parameter's gradient within 1e-2 of its norm.

    The two layouts run different float32 convolution algorithms (oneDNN picks them per layout
    and per CPU; cuDNN per GPU), which sum in different orders. Through a ResNet with BN the
    loss then differs by what float32 rounding allows, not by a fixed number of digits: 2e-7
    relative on the host these tests were written on, 1.9e-5 on an AMD EPYC host. 1e-4 bounds
    that for any host, while a layout mistake (a mis-strided or transposed map) changes the
    loss by percents. Gradients differ more: BN's backward sums cancelling terms, and the first
    convolution's gradient carries the rounding of every layer above it (1.6e-3 of its norm for
    DenseCL-MLS on the AMD EPYC host); a layout mistake changes it by the order of its norm.
    """
    assert plain_losses.keys() == fast_losses.keys()
    for key in plain_losses:
        torch.testing.assert_close(plain_losses[key], fast_losses[key], rtol=1e-4, atol=1e-6)
    assert plain_grads.keys() == fast_grads.keys() and len(plain_grads) > 0
    for name, grad in plain_grads.items():
        # Per tensor, as a share of its norm: BN's backward sums cancelling terms, so single
        # entries differ by more than the rounding of the tensor as a whole.
        error = float((fast_grads[name] - grad).norm() / grad.norm())
        assert error < 1e-2, (name, error)
