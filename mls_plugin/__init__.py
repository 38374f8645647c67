"""MLS (Multi-Label Self-supervised learning, ICCV 2023) as an OpenMMLab plugin.

Importing the package loads the method (``models``, ``datasets``, ``engine``, ``evaluation``)
and the run-time plumbing (``runtime``), registering their components into the OpenMMLab
registries (``MLS``, ``DenseCLMLS``, ``MLSHead``, the labelers, ``MultiLabelBCELoss``,
``QueueMemory``, ``SceneImageDataset``, ``CocoMultiLabelDataset`` in mmpretrain's; the
``CheckedPretrained`` weight initializer, ``GuardedOptimWrapper`` and ``RandomStateHook`` in
mmengine's), and lets torch load mmengine checkpoints with ``weights_only=True`` (see
:mod:`mls_plugin.runtime.checkpoint_allowlist`). The benchmark protocols
(``mls_plugin.benchmarks``) and the lab (``mls_plugin.analysis``) load only when imported
(docs/architecture.md). Configs enable it with ``custom_imports = dict(imports=['mls_plugin'])``.
"""

from .datasets import *  # noqa: F401,F403
from .engine import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from .runtime import register_checkpoint_safe_globals  # loads (registers) all of runtime
from .version import __version__  # noqa: F401

register_checkpoint_safe_globals()
