"""Measurements of what a pretrained representation has learned."""

from .features import encode_batches, extract_features, pool_backbone
from .knn import knn_multilabel_scores
from .multilabel_map import evaluated_classes, multilabel_map
from .pseudo_label_precision import PseudoLabelCounts, pseudo_label_counts, shared_categories

__all__ = [
    'PseudoLabelCounts',
    'evaluated_classes',
    'encode_batches',
    'extract_features',
    'knn_multilabel_scores',
    'multilabel_map',
    'pool_backbone',
    'pseudo_label_counts',
    'shared_categories',
]
