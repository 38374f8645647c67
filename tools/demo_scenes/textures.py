"""Fill textures and the per-object colours they are painted in.

A texture is a pattern of *ink* on *paper*: a function from pixel coordinates to the ink
coverage in [0, 1]. Its period is a fixed fraction of the object's size, so that the texture
is a property of the object that survives rescaling (random resized crops), while its
orientation and phase are random nuisances.

Colours carry no category information: every object draws a hue uniformly, a light and a dark
shade of it (the two differ mostly in brightness, so a texture stays visible after a grey-scale
or hue augmentation), and which shade is ink and which is paper is a coin flip. A solid object
is all paper, i.e. the light or the dark shade with equal chance, so its expected colour is the
same as that of a textured object.
"""

from __future__ import annotations

import colorsys

import numpy as np

TEXTURE_NAMES: tuple[str, ...] = ('solid', 'stripes', 'checker', 'dots', 'rings')

# Periods as fractions of the object's radius (see shapes.sample_polygon). At the smallest
# objects of a 64 px image (radius ~13 px) they give stripes and rings of ~9 to 10 px, checker
# cells of ~7 px and dots of ~7 px spacing: a ResNet stem reduces the image 4x at once, and
# finer patterns (the 3 px cells of generator version 2) are barely learnable after it.
STRIPE_PERIOD = (0.8, 1.0)
CHECKER_CELL = (0.5, 0.65)
DOT_SPACING = (0.95, 1.2)
DOT_RADIUS = 0.3  # of the spacing: ~28% ink, so dots read as dots, not as a checker
RING_PERIOD = (0.7, 0.95)
ORIENTATION_RANGE = (0.0, np.pi)  # radians
SUPERSAMPLE = 2  # per axis; softens the staircase of thin rotated patterns

# Object shades are muted (any hue, little saturation): an object's colour is not its
# category, and with saturated random colours it was each image's identity instead, which
# MoCo-v2's colour jitter (hue +-0.1) leaves intact: self-supervision then told the scenes apart
# by their objects' colours and the kNN mAP fell below the untrained network's
# (docs/experiments/demo/tuning_log.md, run 15). Objects stand out from the background by value.
LIGHT_SAT, LIGHT_VAL = (0.0, 0.12), (0.8, 1.0)
DARK_SAT, DARK_VAL = (0.0, 0.12), (0.35, 0.55)
DARK_HUE_SHIFT = 0.1  # the dark shade's hue stays near the light one's, so blends at pattern
# edges stay saturated instead of turning grey


def hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    """HSV (all in 0..1, hue wrapping) to an RGB float array in 0..1."""
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v))


def object_colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw an object's paper and ink colours, independently of its category.

    Args:
        rng: Random generator of this image.

    Returns:
        (paper, ink) as RGB float arrays in 0..1.
    """
    hue, s1, v1, shift, s2, v2, flip = rng.random(7).tolist()  # one call: they add up

    def between(lo_hi: tuple[float, float], u: float) -> float:
        return lo_hi[0] + (lo_hi[1] - lo_hi[0]) * u

    light = hsv_to_rgb(hue, between(LIGHT_SAT, s1), between(LIGHT_VAL, v1))
    dark_hue = hue + DARK_HUE_SHIFT * (2 * shift - 1)
    dark = hsv_to_rgb(dark_hue, between(DARK_SAT, s2), between(DARK_VAL, v2))
    return (light, dark) if flip < 0.5 else (dark, light)


def coverage(
    rng: np.random.Generator,
    texture: str,
    box: tuple[int, int, int, int],
    centre: tuple[float, float],
    radius: float,
) -> np.ndarray:
    """Ink coverage of a texture over a box of pixels.

    Args:
        rng: Random generator of this image (draws orientation, period and phase).
        texture: One of ``TEXTURE_NAMES``.
        box: (x0, y0, x1, y1), inclusive pixel bounds of the region to fill.
        centre: Centre of the object in pixels (rings are concentric around it).
        radius: Radius of the object in pixels; periods scale with it.

    Returns:
        Float32 array (y1 - y0 + 1, x1 - x0 + 1) with values in [0, 1].
    """
    x0, y0, x1, y1 = box
    h, w = y1 - y0 + 1, x1 - x0 + 1
    if texture == 'solid':
        return np.zeros((h, w), dtype=np.float32)
    n = SUPERSAMPLE
    # Sub-pixel sample positions relative to the object's centre, as a column (y) and a row
    # (x) that broadcast against each other.
    offsets = (np.arange(n) + 0.5) / n - 0.5
    x = ((np.arange(x0, x1 + 1)[:, None] + offsets).reshape(1, -1) - centre[0]).astype(np.float32)
    y = ((np.arange(y0, y1 + 1)[:, None] + offsets).reshape(-1, 1) - centre[1]).astype(np.float32)
    phi = rng.uniform(*ORIENTATION_RANGE)
    c, s = np.float32(np.cos(phi)), np.float32(np.sin(phi))
    if texture == 'stripes':
        period = radius * rng.uniform(*STRIPE_PERIOD)
        u = (x * (c / period) + y * (s / period)) + np.float32(rng.random())
        ink = u % 1.0 < 0.5
    elif texture == 'checker':
        k = 1.0 / (radius * rng.uniform(*CHECKER_CELL))
        u = np.floor(x * (c * k) + y * (s * k) + np.float32(rng.random()))
        v = np.floor(y * (c * k) - x * (s * k) + np.float32(rng.random()))
        ink = (u + v) % 2 == 1
    elif texture == 'dots':
        k = 1.0 / (radius * rng.uniform(*DOT_SPACING))
        du = (x * (c * k) + y * (s * k) + np.float32(rng.random())) % 1.0 - 0.5
        dv = (y * (c * k) - x * (s * k) + np.float32(rng.random())) % 1.0 - 0.5
        ink = du * du + dv * dv < DOT_RADIUS**2
    elif texture == 'rings':
        period = radius * rng.uniform(*RING_PERIOD)
        ink = (np.sqrt(x * x + y * y) / np.float32(period) + np.float32(rng.random())) % 1.0 < 0.5
    else:
        raise ValueError(f'unknown texture {texture!r}; expected one of {TEXTURE_NAMES}')
    # Average the n x n sub-samples of each pixel (strided sums beat a reshape and mean).
    ink = ink.astype(np.float32)
    total = sum(ink[i::n, j::n] for i in range(n) for j in range(n))
    return total * np.float32(1.0 / (n * n))
