"""The demo categories (silhouette x fill texture) and the chance level of sharing one.

A category is what an object *is*: its outline and the pattern inside it. Everything else
(colours, size, aspect, rotation, position, texture orientation and phase, background) is drawn
per object independently of the category, so only shape and texture tell categories apart.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from itertools import product
from math import comb
from typing import NamedTuple

import numpy as np

from .shapes import SHAPE_NAMES
from .textures import TEXTURE_NAMES


class Category(NamedTuple):
    """One demo category.

    Attributes:
        name: COCO category name, ``'<shape>_<texture>'``.
        shape: Key of ``shapes.SHAPES``.
        texture: One of ``textures.TEXTURE_NAMES``.
    """

    name: str
    shape: str
    texture: str


CATEGORIES: tuple[Category, ...] = tuple(
    Category(f'{shape}_{texture}', shape, texture)
    for shape, texture in product(SHAPE_NAMES, TEXTURE_NAMES)
)


def coco_categories() -> list[dict]:
    """The ``categories`` list of the COCO json (ids from 1, supercategory = silhouette)."""
    return [
        {'id': i + 1, 'name': c.name, 'supercategory': c.shape} for i, c in enumerate(CATEGORIES)
    ]


def expected_chance_precision(num_categories: int, min_objects: int, max_objects: int) -> float:
    """Probability that two independent scenes share at least one category.

    This is the pseudo-label precision of random neighbours, for scenes whose number of objects
    is uniform in [min_objects, max_objects] and whose categories are distinct and uniform.

    Args:
        num_categories: Number of categories.
        min_objects: Minimum number of objects per scene.
        max_objects: Maximum number of objects per scene.

    Returns:
        The probability.
    """
    counts = range(min_objects, max_objects + 1)
    disjoint = [
        comb(num_categories - k1, k2) / comb(num_categories, k2) for k1 in counts for k2 in counts
    ]
    return 1.0 - sum(disjoint) / len(disjoint)


def measured_chance_precision(label_sets: Sequence[Collection[int]]) -> float:
    """Fraction of pairs of distinct scenes that share at least one category.

    Args:
        label_sets: The categories of each scene (any hashable ids).

    Returns:
        The fraction over all unordered pairs; NaN for fewer than two scenes.
    """
    n = len(label_sets)
    if n < 2:
        return float('nan')
    ids = sorted({c for labels in label_sets for c in labels})
    column = {c: j for j, c in enumerate(ids)}
    multi_hot = np.zeros((n, len(ids)), dtype=np.float32)
    for i, labels in enumerate(label_sets):
        multi_hot[i, [column[c] for c in labels]] = 1.0
    shared = (multi_hot @ multi_hot.T) > 0
    # The diagonal counts a scene with itself (True unless it has no category): leave it out.
    off_diagonal = int(shared.sum()) - int(np.trace(shared))
    return off_diagonal / (n * (n - 1))
