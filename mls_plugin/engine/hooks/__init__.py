from .bce_warmup_hook import BCEWarmupHook
from .knn_monitor_hook import KNNMultiLabelHook
from .precise_bn_hook import PreciseBNIterHook
from .pseudo_label_precision_hook import PseudoLabelPrecisionHook
from .skipped_images_hook import SkippedImagesHook

__all__ = [
    'BCEWarmupHook',
    'KNNMultiLabelHook',
    'PreciseBNIterHook',
    'PseudoLabelPrecisionHook',
    'SkippedImagesHook',
]
