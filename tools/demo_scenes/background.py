"""Muted random backgrounds: the scene's nuisance behind the objects.

Backgrounds are unsaturated and their patterns have low contrast, so that every object (whose
shades are saturated, see textures.py) stands out, while the kind of background (gradient,
radial gradient, low-frequency noise) varies freely and says nothing about the objects on it.
Backgrounds carry no stripes or checkerboards: a patterned background is in every crop of an
image, so self-supervision learns it as the image's identity, and it looks like the object
textures that define the categories.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

from .textures import hsv_to_rgb

BG_SAT = (0.0, 0.2)
BG_VAL = (0.3, 0.9)
BG_CONTRAST = (0.1, 0.3)  # difference in value between the two colours of a background


def _colour_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two muted colours whose values differ by ``BG_CONTRAST``."""
    v1 = rng.uniform(*BG_VAL)
    step = rng.uniform(*BG_CONTRAST)
    v2 = v1 + step if v1 + step <= BG_VAL[1] else v1 - step
    c1 = hsv_to_rgb(rng.random(), rng.uniform(*BG_SAT), v1)
    c2 = hsv_to_rgb(rng.random(), rng.uniform(*BG_SAT), v2)
    return c1, c2


@lru_cache(maxsize=4)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates over [0, 1), shared by all images of a size (read-only)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / np.float32(size)
    yy.flags.writeable = xx.flags.writeable = False
    return yy, xx


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Draw a random background: linear gradient, radial gradient or low-frequency noise.

    Args:
        rng: Random generator of this image.
        size: Image side in pixels.

    Returns:
        Float32 array (3, size, size) in 0..1, channels first: NumPy broadcasts a colour over
        long rows much faster than over a last axis of length 3.
    """
    yy, xx = _grid(size)
    c1, c2 = _colour_pair(rng)
    kind = int(rng.integers(3))
    if kind == 0:  # linear gradient
        phi = rng.uniform(0, 2 * np.pi)
        u = xx * np.float32(np.cos(phi)) + yy * np.float32(np.sin(phi))
        lo, hi = u.min(), u.max()
        t = (u - lo) / (hi - lo)
    elif kind == 1:  # radial gradient
        cx, cy = rng.uniform(0, 1, size=2).astype(np.float32)
        t = np.hypot(xx - cx, yy - cy)
        t /= t.max()
    else:  # low-frequency noise between the two colours
        k = int(rng.integers(3, 7))
        grid = Image.fromarray(np.round(rng.random((k, k)) * 255).astype(np.uint8))
        big = grid.resize((size, size), Image.Resampling.BICUBIC)
        t = np.asarray(big, dtype=np.float32) / np.float32(255.0)
    c1, c2 = c1.astype(np.float32)[:, None, None], c2.astype(np.float32)[:, None, None]
    return c1 + (c2 - c1) * t
