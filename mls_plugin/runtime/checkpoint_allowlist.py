"""Let torch >= 2.6 load MMEngine runner checkpoints with ``weights_only=True``.

torch 2.6 made ``torch.load(weights_only=True)`` the default. mmengine 0.10.7
calls ``torch.load`` without the argument, so ``--resume`` and ``load_from``
of a full runner checkpoint fail on the Python objects mmengine itself wrote
(``Unsupported global: GLOBAL mmengine.logging.history_buffer.HistoryBuffer``).
Turning ``weights_only`` off would let any pickle run code on load. Instead we
allow-list exactly what mmengine's checkpoints contain: the message hub's
``HistoryBuffer``, the NumPy arrays and scalars inside it, and the
``getattr(HistoryBuffer, 'min')``-style references by which pickle stores its
statistics methods. ``builtins.getattr`` itself would be a hole (a pickle
could fetch any attribute of an allowed object, e.g. ``ndarray.tofile``), so
that name is bound to :func:`history_buffer_getattr`, which resolves only
those method references. Everything else is still refused.
"""

import pickle
from typing import List

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

try:  # NumPy >= 2 moved the pickling helpers to numpy._core.
    from numpy._core.multiarray import _reconstruct, scalar
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import _reconstruct, scalar


# HistoryBuffer registers these lazily, on its first instantiation.
_DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')


def history_buffer_getattr(obj: object, name: str) -> object:
    """``getattr`` restricted to HistoryBuffer's statistics methods."""
    known = (*_DEFAULT_STATISTICS, *HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and name in known:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'weights-only load refused getattr({obj!r}, {name!r}): only HistoryBuffer '
        'statistics methods may be referenced (mls_plugin checkpoint allow-list)'
    )


def checkpoint_safe_globals() -> List[object]:
    """The globals an mmengine runner checkpoint needs beyond torch's own."""
    dtype_classes = {type(np.dtype(t)) for t in np.sctypeDict.values()}
    return [
        HistoryBuffer,
        (history_buffer_getattr, 'builtins.getattr'),
        _reconstruct,
        scalar,
        np.ndarray,
        np.dtype,
        *dtype_classes,
    ]


def register_checkpoint_safe_globals() -> None:
    """Add :func:`checkpoint_safe_globals` to torch's weights-only allow-list."""
    torch.serialization.add_safe_globals(checkpoint_safe_globals())
