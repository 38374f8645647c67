"""Silhouettes of the demo objects as simple polygons with integer vertices.

Each silhouette is an outline around the origin, normalised to the area of the unit disk, so
that an object's size says nothing about its shape: at any drawn scale all four silhouettes
cover the same number of pixels (up to rounding).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Callable

import numpy as np

DISK_VERTICES = 24  # enough for a round outline at 30 px, few enough to stay simple at 16 px
CROSS_HALF_WIDTH = 0.4  # arms wide enough (relative to their length) to show a texture inside
ROTATION_RANGE = (0.0, 2 * math.pi)  # radians; a nuisance (unrotated scenes learned no more)
ASPECT_RANGE = (0.8, 1.25)  # width / height before rotation: a nuisance, small enough to keep
# a square from passing for a thin rectangle


def _regular(n: int, phase: float = 0.0) -> np.ndarray:
    """Vertices of a regular n-gon of circumradius 1 centred at the origin.

    Args:
        n: Number of vertices.
        phase: Angle of the first vertex in radians.

    Returns:
        Array of shape (n, 2).
    """
    t = phase + 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(t), np.sin(t)], axis=1)


def _cross() -> np.ndarray:
    """Plus sign of half-length 1 with arms of half-width ``CROSS_HALF_WIDTH``."""
    a, b = CROSS_HALF_WIDTH, 1.0
    return np.array(
        [[-a, -b], [a, -b], [a, -a], [b, -a], [b, a], [a, a]]
        + [[a, b], [-a, b], [-a, a], [-b, a], [-b, -a], [-a, -a]],
        dtype=float,
    )


def polygon_area(poly: np.ndarray) -> float:
    """Area of a simple polygon by the shoelace formula.

    Args:
        poly: Vertices, shape (n, 2).

    Returns:
        The (non-negative) area.
    """
    x, y = poly[:, 0].astype(np.float64), poly[:, 1].astype(np.float64)
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def _unit_area(outline: Callable[[], np.ndarray]) -> np.ndarray:
    """Scale an outline (centred at the origin) to the area of the unit disk, pi."""
    pts = outline()
    return pts * np.sqrt(np.pi / polygon_area(pts))


# Four silhouettes that stay distinct at 64 px whatever the rotation: round, four corners,
# three corners, and a concave outline. Hexagons or stars were left out, a hexagon being too
# close to a disk and a star's arms too thin for a fill texture at this size.
SHAPES: dict[str, np.ndarray] = {
    'disk': _unit_area(lambda: _regular(DISK_VERTICES)),
    'square': _unit_area(lambda: _regular(4, np.pi / 4)),
    'triangle': _unit_area(lambda: _regular(3, -np.pi / 2)),
    'cross': _unit_area(_cross),
}
SHAPE_NAMES: tuple[str, ...] = tuple(SHAPES)


def _inradius(pts: np.ndarray) -> float:
    """Distance from the origin to the nearest point of a closed outline."""
    a, d = pts, np.roll(pts, -1, axis=0) - pts
    t = np.clip(-(a * d).sum(axis=1) / (d * d).sum(axis=1), 0.0, 1.0)
    return float(np.hypot(*(a + t[:, None] * d).T).min())


# Radius of the largest disk around the centre inside each unit silhouette, before the aspect
# stretch (which shrinks it by at most 1 / sqrt(ASPECT_RANGE[1])): lets the layout reject
# positions whose surroundings are taken without drawing the object there.
INRADIUS: dict[str, float] = {name: _inradius(pts) for name, pts in SHAPES.items()}


def is_star_shaped(poly: Sequence[Sequence[int]]) -> bool:
    """Whether a polygon winds once around the origin with strictly monotone vertex angles.

    Such a polygon is simple: each edge sweeps its own sector of directions from the origin,
    so two edges can only meet at a shared vertex. All silhouettes are star-shaped around their
    centre, and rounding to integers keeps them so unless it merges or swaps vertices of a tiny
    outline, which this test catches. It is much cheaper than testing every pair of edges, and
    plain Python beats NumPy on a couple of dozen vertices.

    Args:
        poly: Vertices (n, 2) around the origin, without repeating the first vertex.

    Returns:
        True if the polygon is star-shaped around the origin as described.
    """
    if len(poly) < 3 or any(x == 0 and y == 0 for x, y in poly):
        return False
    angles = [math.atan2(y, x) for x, y in poly]
    steps = [
        (b - a + math.pi) % (2 * math.pi) - math.pi for a, b in zip(angles, angles[1:] + angles[:1])
    ]
    # Steps of one sign sum to a multiple of 2 pi; one turn is the only multiple below 3 pi.
    one_sign = min(steps) > 0 or max(steps) < 0
    return one_sign and abs(sum(steps)) < 3 * math.pi


def sample_polygon(rng: np.random.Generator, shape: str, radius: float) -> np.ndarray | None:
    """Draw one outline of a silhouette: random aspect and rotation, integer vertices.

    Args:
        rng: Random generator of this image.
        shape: A key of ``SHAPES``.
        radius: Radius in pixels of the disk with the same area as the object.

    Returns:
        Integer vertices (n, 2) around the origin (the shape's centre), or None if rounding
        made the polygon degenerate; the caller then draws again.
    """
    u, v = rng.random(2).tolist()
    aspect, theta = (
        ASPECT_RANGE[0] + (ASPECT_RANGE[1] - ASPECT_RANGE[0]) * u,
        ROTATION_RANGE[0] + (ROTATION_RANGE[1] - ROTATION_RANGE[0]) * v,
    )
    # Stretch x by sqrt(aspect) and y by its inverse (which keeps the area), then rotate, as
    # a single 2x2 matrix acting on row vectors.
    sx, sy = radius * math.sqrt(aspect), radius / math.sqrt(aspect)
    c, s = math.cos(theta), math.sin(theta)
    transform = np.array([[sx * c, sx * s], [-sy * s, sy * c]])
    vertices = np.rint(SHAPES[shape] @ transform).astype(np.int64).tolist()
    # Rounding can merge neighbouring vertices of a small disk: drop the repeats, whose
    # zero-length edges would otherwise fail the angle test.
    poly = [v for v, prev in zip(vertices, vertices[-1:] + vertices[:-1]) if v != prev]
    return np.array(poly, dtype=np.int64) if is_star_shaped(poly) else None
