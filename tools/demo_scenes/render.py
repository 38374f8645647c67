"""Rendering of one scene: background, textured objects, pixel noise."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .background import background
from .categories import CATEGORIES
from .layout import place_objects
from .textures import coverage, object_colours

# Pixel noise, uniform on -NOISE..NOISE (std 2 on the 0..255 scale): integer draws cost a
# fifth of Gaussian ones, and the shape of the noise does not matter here.
NOISE = 3


class SceneObject(NamedTuple):
    """One object of a rendered scene.

    Attributes:
        category: 0-based index into ``CATEGORIES``.
        polygon: Integer vertices (n, 2) in image coordinates; exactly the vertex list drawn.
    """

    category: int
    polygon: np.ndarray


def render_scene(
    rng: np.random.Generator, size: int, min_objects: int, max_objects: int
) -> tuple[np.ndarray, list[SceneObject]]:
    """Render one scene with a uniform number of objects of distinct, uniform categories.

    Args:
        rng: Random generator of this image; the scene is a pure function of its state.
        size: Image side in pixels.
        min_objects: Minimum number of objects.
        max_objects: Maximum number of objects (at most the number of categories).

    Returns:
        The uint8 RGB image (size, size, 3) and its objects.

    Raises:
        RuntimeError: If the objects cannot be placed (image too small for them).
    """
    img = background(rng, size)  # channels first, see background()
    count = int(rng.integers(min_objects, max_objects + 1))
    cats = rng.choice(len(CATEGORIES), size=count, replace=False).tolist()
    placements = place_objects(rng, size, [CATEGORIES[c].shape for c in cats])
    objects = []
    for cat, placed in zip(cats, placements):
        poly, mask = placed.polygon, placed.mask  # the raster of the very json vertex list
        (x0, y0), (x1, y1) = poly.min(axis=0).tolist(), poly.max(axis=0).tolist()
        paper, ink = (c.astype(np.float32)[:, None] for c in object_colours(rng))
        t = coverage(rng, CATEGORIES[cat].texture, (x0, y0, x1, y1), placed.centre, placed.radius)
        img[:, y0 : y1 + 1, x0 : x1 + 1][:, mask] = paper + (ink - paper) * t[mask]
        objects.append(SceneObject(cat, poly))
    noise = rng.integers(0, 2 * NOISE + 1, size=img.shape, dtype=np.uint8)
    pixels = np.rint(img * np.float32(255.0)) + (noise.astype(np.float32) - np.float32(NOISE))
    pixels = np.clip(pixels, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(pixels.transpose(1, 2, 0)), objects
