"""Placement of a scene's objects: random position and size, no object hiding another.

Objects are placed one after the other at random positions; a position is taken only if the
object's pixels keep ``GAP`` px from every pixel of the objects already placed. Boxes may
overlap (a triangle can sit in the corner of a square's box) and objects may come close, but
no pixel belongs to two objects, so each json mask matches the drawn pixels exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw

from .shapes import ASPECT_RANGE, INRADIUS, sample_polygon

# Objects fill a good part of the image, so that most views of a scene (crops of 60 to 100 %)
# hold an object, not just background.
RADIUS_RANGE = (0.21, 0.29)  # object radius (of the disk of equal area) / image size
MIN_RADIUS = 0.14  # the radius shrinks towards this fraction when an object does not fit
SHRINK = 0.9  # radius factor after each failed round of positions
ROUNDS = 12  # outlines tried per object
TRIES = 8  # positions tried per outline, among those whose core is free (see _core_half_side)
GAP = 1  # px of background kept between the pixels of two objects
EDGE_MARGIN = 1  # px kept free between an object's box and the image border
LAYOUTS = 20  # whole layouts drawn before giving up


class Placement(NamedTuple):
    """One placed object.

    Attributes:
        polygon: Integer vertices (n, 2) in image coordinates.
        mask: Boolean raster of exactly ``polygon`` as it is drawn, over the polygon's box
            (rows ``y0..y1``, columns ``x0..x1`` of the vertices' extent).
        centre: Centre of the silhouette in image coordinates (x, y).
        radius: Radius in pixels of the disk with the object's area; sets texture periods.
    """

    polygon: np.ndarray
    mask: np.ndarray
    centre: tuple[float, float]
    radius: float


def rasterise(poly: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixels of a polygon as Pillow fills it, on a canvas with its origin at (0, 0).

    Args:
        poly: Integer vertices (n, 2).
        width: Width of the canvas.
        height: Height of the canvas.

    Returns:
        Read-only boolean array (height, width).
    """
    canvas = Image.new('L', (width, height), 0)
    ImageDraw.Draw(canvas).polygon(poly.ravel().tolist(), fill=1)
    # Bytes 0/1 read as bool; faster than np.asarray, which goes through the array interface.
    return np.frombuffer(canvas.tobytes(), dtype=bool).reshape(height, width)


def dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """Square (Chebyshev) dilation by ``r`` px; the result is ``2r`` larger on each axis."""
    h, w = mask.shape
    rows = np.zeros((h, w + 2 * r), dtype=bool)  # separable: along x, then along y
    for dx in range(2 * r + 1):
        rows[:, dx : dx + w] |= mask
    out = np.zeros((h + 2 * r, w + 2 * r), dtype=bool)
    for dy in range(2 * r + 1):
        out[dy : dy + h] |= rows
    return out


def _core_half_side(shape: str, radius: float) -> int:
    """Half-side of a square around the centre that every outline of the shape covers.

    The square inscribed in the silhouette's inner disk, less a pixel for the rounding of the
    vertices: a safe (small) estimate, used only to reject positions early.
    """
    inner = INRADIUS[shape] * radius / np.sqrt(max(ASPECT_RANGE[1], 1 / ASPECT_RANGE[0]))
    return max(int((inner - 1.0) / np.sqrt(2.0)), 0)


def _place_one(
    rng: np.random.Generator, size: int, shape: str, blocked: np.ndarray, empty: bool
) -> Placement | None:
    """Place one object where its pixels avoid ``blocked`` (placed objects and their halo).

    ``empty`` says that nothing is placed yet, so that any position will do.
    """
    lo, hi = EDGE_MARGIN, size - 1 - EDGE_MARGIN
    radius = rng.uniform(*RADIUS_RANGE) * size
    # Summed-area table of the blocked pixels: how many lie in any box, in four lookups.
    table = np.zeros((size + 1, size + 1), dtype=np.int32)
    if not empty:
        table[1:, 1:] = blocked.cumsum(axis=0, dtype=np.int32).cumsum(axis=1)
    for _ in range(ROUNDS):
        poly = sample_polygon(rng, shape, radius)
        if poly is not None:
            (mx, my), (nx, ny) = poly.min(axis=0).tolist(), poly.max(axis=0).tolist()
            if nx - mx <= hi - lo and ny - my <= hi - lo:
                w, h = nx - mx + 1, ny - my + 1
                # Translations (tx, ty) keeping the box inside the margins, as a grid of
                # ny1 x nx1 starting at (tx0, ty0); the shape's centre lands on (tx, ty).
                tx0, ty0 = lo - mx, lo - my
                nx1, ny1 = hi - nx + 1 - tx0, hi - ny + 1 - ty0
                # Keep those whose core square (centre +- k) is free of blocked pixels: the
                # object covers it, so the others cannot fit. The core stays inside the box.
                k = _core_half_side(shape, radius)
                a0, a1 = tx0 - k, tx0 + k + 1  # table columns of the core's left/right edges
                b0, b1 = ty0 - k, ty0 + k + 1
                taken = (
                    table[b1 : b1 + ny1, a1 : a1 + nx1]
                    - table[b0 : b0 + ny1, a1 : a1 + nx1]
                    - table[b1 : b1 + ny1, a0 : a0 + nx1]
                    + table[b0 : b0 + ny1, a0 : a0 + nx1]
                )
                free = np.flatnonzero(taken == 0)
                if len(free):
                    picks = rng.integers(len(free), size=TRIES if not empty else 1)
                    local = None  # raster of the outline at the origin, made when first needed
                    for i in free[picks].tolist():
                        tx, ty = tx0 + i % nx1, ty0 + i // nx1
                        x0, y0 = mx + tx, my + ty
                        window = blocked[y0 : y0 + h, x0 : x0 + w]
                        if not empty:
                            if local is None:
                                local = rasterise(poly - [mx, my], w, h)
                            if np.any(window & local):
                                continue
                        # Pillow's edge arithmetic is not exactly translation invariant (about
                        # one outline in 400 moves a boundary pixel), so the drawn mask is the
                        # raster of the absolute vertex list, checked again.
                        placed = poly + np.array([tx, ty])
                        mask = rasterise(placed, size, size)[y0 : y0 + h, x0 : x0 + w]
                        if empty or not np.any(window & mask):
                            return Placement(placed, mask, (float(tx), float(ty)), radius)
        radius = max(radius * SHRINK, MIN_RADIUS * size)
    return None


def place_objects(rng: np.random.Generator, size: int, shapes: Sequence[str]) -> list[Placement]:
    """Place objects of the given silhouettes, in order, without any two touching.

    If one object finds no room even after shrinking, the whole layout is drawn again.

    Args:
        rng: Random generator of this image.
        size: Image side in pixels.
        shapes: Silhouette of each object (keys of ``shapes.SHAPES``).

    Returns:
        One placement per entry of ``shapes``, in the same order.

    Raises:
        RuntimeError: If the objects cannot be placed after ``LAYOUTS`` layouts.
    """
    for _ in range(LAYOUTS):
        # Pixels no new object may cover: those of the placed ones, grown by GAP; padded by
        # GAP so that the halo of an object at the border needs no clipping.
        padded = np.zeros((size + 2 * GAP, size + 2 * GAP), dtype=bool)
        blocked = padded[GAP:-GAP, GAP:-GAP] if GAP else padded
        placements = []
        for shape in shapes:
            placed = _place_one(rng, size, shape, blocked, empty=not placements)
            if placed is None:
                break
            placements.append(placed)
            (x0, y0), (h, w) = placed.polygon.min(axis=0).tolist(), placed.mask.shape
            padded[y0 : y0 + h + 2 * GAP, x0 : x0 + w + 2 * GAP] |= dilate(placed.mask, GAP)
        else:
            return placements
    raise RuntimeError(
        f'could not place {len(shapes)} objects in a {size}x{size} image; '
        'use a larger --img-size or a smaller --max-objects'
    )
