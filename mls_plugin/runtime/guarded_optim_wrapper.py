"""Optimizer wrappers that refuse to step on a non-finite loss."""

from typing import Dict, Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import MessageHub, print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


class NonFiniteLossError(FloatingPointError):
    """Training stopped on a NaN or infinite loss, before the optimizer stepped."""


class _NonFiniteLossGuard:
    """Check the loss before backward; stop the run or skip the step.

    The check happens before the gradients are computed, so on ``stop`` the
    model and optimizer are still those of the last good step:
    ``tools/train.py`` saves them as ``before_nonfinite_iter_N.pth``. Under
    DDP the ranks agree through one all-reduce, so they skip or stop together.

    Args:
        on_nonfinite (str): ``'stop'`` raises :class:`NonFiniteLossError`;
            ``'skip'`` drops the step (no backward, no update), counts it in
            ``train/skipped_steps`` and goes on. Defaults to 'stop'.
        max_consecutive_skips (int): With ``'skip'``, stop anyway after this
            many non-finite steps in a row. Defaults to 10.
    """

    def __init__(
        self, *args, on_nonfinite: str = 'stop', max_consecutive_skips: int = 10, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        if on_nonfinite not in ('stop', 'skip'):
            raise ValueError(
                f"optim_wrapper.on_nonfinite must be 'stop' or 'skip', got {on_nonfinite!r}"
            )
        self.on_nonfinite = on_nonfinite
        self.max_consecutive_skips = max_consecutive_skips
        self.skipped_steps = 0
        self._consecutive = 0

    def update_params(
        self,
        loss: torch.Tensor,
        step_kwargs: Optional[Dict] = None,
        zero_kwargs: Optional[Dict] = None,
    ) -> None:
        finite = torch.isfinite(loss.detach()).all().to(torch.float32)
        if get_world_size() > 1:
            all_reduce(finite, op='min')
        if finite.item() == 1:
            self._consecutive = 0
            return super().update_params(loss, step_kwargs, zero_kwargs)

        self.skipped_steps += 1
        self._consecutive += 1
        hub = MessageHub.get_current_instance()
        where = f'iteration {hub.get_info("iter", -1) + 1}'
        if self.on_nonfinite == 'stop' or self._consecutive > self.max_consecutive_skips:
            raise NonFiniteLossError(
                f'loss is {loss.item()} at {where}; stopped before the optimizer step '
                f'(optim_wrapper.on_nonfinite={self.on_nonfinite!r}, '
                f'{self._consecutive} non-finite step(s) in a row)'
            )
        print_log(f'non-finite loss {loss.item()} at {where}: step skipped', level=30)
        hub.update_scalar('train/skipped_steps', self.skipped_steps)
        self._inner_count += 1
        self.zero_grad(**(zero_kwargs or {}))


@OPTIM_WRAPPERS.register_module()
class GuardedOptimWrapper(_NonFiniteLossGuard, OptimWrapper):
    """mmengine's ``OptimWrapper`` with a non-finite-loss guard (see above)."""


@OPTIM_WRAPPERS.register_module()
class GuardedAmpOptimWrapper(_NonFiniteLossGuard, AmpOptimWrapper):
    """mmengine's ``AmpOptimWrapper`` with a non-finite-loss guard (see above)."""
