"""The lab: diagnostics of MLS, shared by the tools in ``tools/analysis``.

Not loaded by ``import mls_plugin``: nothing in the method, the run-time plumbing or the
benchmark protocols imports it (``tests/test_import_direction.py``). It holds the oracle
(:class:`OracleLabeler`, :class:`OraclePseudoLabelHook`; a config that uses them lists
``'mls_plugin.analysis'`` in ``custom_imports``), model loading, labelled views, encoding and
the ranking of a queue as the pseudo-labels rank it.
"""

from .encoding import encode_key, encode_online
from .labelled_images import build_labelled_dataset, multi_hot, training_crop_size
from .model_loading import build_model, load_pretrained_model, momentum_backbone, momentum_encoder
from .oracle import OracleLabeler, OraclePseudoLabelHook
from .ranking import rank_queue
from .setup import load_mls_with_images

__all__ = [
    'build_labelled_dataset',
    'build_model',
    'encode_key',
    'encode_online',
    'load_mls_with_images',
    'load_pretrained_model',
    'momentum_backbone',
    'momentum_encoder',
    'multi_hot',
    'OracleLabeler',
    'OraclePseudoLabelHook',
    'rank_queue',
    'training_crop_size',
]
