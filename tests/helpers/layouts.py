"""Test helper: one training step's losses and gradients compared between two memory layouts."""

from typing import Dict

import torch


def assert_same_step(
    plain_losses: Dict[str, torch.Tensor],
    fast_losses: Dict[str, torch.Tensor],
    plain_grads: Dict[str, torch.Tensor],
    fast_grads: Dict[str, torch.Tensor],
) -> None:
    """Losses to float32 rounding; each parameter's gradient within 1e-3 of its norm."""
    assert plain_losses.keys() == fast_losses.keys()
    for key in plain_losses:
        torch.testing.assert_close(plain_losses[key], fast_losses[key], rtol=1e-5, atol=1e-6)
    assert plain_grads.keys() == fast_grads.keys() and len(plain_grads) > 0
    for name, grad in plain_grads.items():
        # Per tensor, as a share of its norm: BN's backward sums cancelling terms, so single
        # entries differ by more than the rounding of the tensor as a whole.
        error = float((fast_grads[name] - grad).norm() / grad.norm())
        assert error < 1e-3, (name, error)
