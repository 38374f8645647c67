"""Generate the embedded demo dataset: synthetic multi-object scenes in COCO format.

The project's demo job (``make demo``) pretrains MLS on scene images and should need no
download, so this tool draws such a dataset procedurally. Every image shows a few objects of
*distinct* categories (circle, square, triangle, star, hexagon, cross, diamond, arrow, crescent,
heart), each category with its own colour family, random size, rotation and aspect, placed
without overlap on a varied background (colour gradients, low-frequency noise, stripes,
checkerboards). Each object's mask is one simple polygon with integer vertices; the very same
vertex list is drawn with ``ImageDraw.polygon`` and written to the json, so boxes, masks and
pixels agree exactly.

Output layout (``file_name`` is relative to the split's image folder)::

    <out-dir>/images/train/scene_000000.jpg ...
    <out-dir>/images/val/scene_000240.jpg ...
    <out-dir>/annotations/instances_train.json
    <out-dir>/annotations/instances_val.json

The output is a pure function of the parameters (same seed, same bytes). The parameters are
stored in each json's ``info['generator_params']``; if both jsons exist with matching parameters
and all their images are present, the tool reports that the data is up to date and exits at
once (use ``--force`` to regenerate anyway). The jsons are written last, through a temporary
file and ``os.replace``, so an interrupted run never leaves a valid-looking dataset behind.

Usage::

    python tools/generate_demo_scenes.py                      # 300 images of 160x160
    python tools/generate_demo_scenes.py --out-dir /tmp/scenes --num-images 50 --seed 1
    python tools/generate_demo_scenes.py --force              # regenerate even if up to date

Only NumPy and Pillow are needed.
"""

from __future__ import annotations

import argparse
import colorsys
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image, ImageDraw

# Bump whenever the drawing changes, so that existing outputs are regenerated.
GENERATOR_VERSION = 1

SPLITS = ('train', 'val')
JPEG_QUALITY = 90
IMAGE_PREFIX = 'scene_'
EDGE_MARGIN = 2  # px kept free between an object's box and the image border
BOX_MARGIN = 6  # px kept free between the boxes of two objects
RADIUS_RANGE = (0.09, 0.16)  # object radius as a fraction of the image size
NOISE_STD = 2.0  # std of the pixel noise added to the whole image (0..255 scale)

# Object colours are saturated and bright, backgrounds are muted, so objects stand out.
OBJ_SAT, OBJ_VAL = (0.7, 1.0), (0.7, 1.0)
BG_SAT, BG_VAL = (0.0, 0.3), (0.2, 0.95)
HUE_JITTER = 0.03


def _regular(n: int, phase: float = 0.0) -> np.ndarray:
    """Vertices of a regular n-gon of circumradius 1.

    Args:
        n: Number of vertices.
        phase: Angle of the first vertex in radians.

    Returns:
        Array of shape (n, 2).
    """
    t = phase + 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(t), np.sin(t)], axis=1)


def _star() -> np.ndarray:
    """Five-pointed star with inner radius 0.45."""
    outer = _regular(10, -np.pi / 2)
    radius = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
    return outer * radius[:, None]


def _cross() -> np.ndarray:
    """Plus sign with arms of half-width 0.3."""
    a, b = 0.3, 1.0
    return np.array(
        [[-a, -b], [a, -b], [a, -a], [b, -a], [b, a], [a, a]]
        + [[a, b], [-a, b], [-a, a], [-b, a], [-b, -a], [-a, -a]],
        dtype=float,
    )


def _arrow() -> np.ndarray:
    """Arrow pointing to +x: a shaft and a triangular head."""
    return np.array(
        [[-1.0, -0.25], [0.15, -0.25], [0.15, -0.65], [1.0, 0.0]]
        + [[0.15, 0.65], [0.15, 0.25], [-1.0, 0.25]],
        dtype=float,
    )


def _crescent() -> np.ndarray:
    """Unit disk minus a disk of radius 0.8 centred at (0.5, 0), tips blunted, one polygon."""
    d, r = 0.5, 0.8
    x = (1 - r * r + d * d) / (2 * d)
    y = np.sqrt(1 - x * x)
    a_out = np.arctan2(y, x) + 0.2
    a_in = np.arctan2(y, x - d) + 0.45
    t_out = np.linspace(a_out, 2 * np.pi - a_out, 24)
    t_in = np.linspace(2 * np.pi - a_in, a_in, 16)
    outer = np.stack([np.cos(t_out), np.sin(t_out)], axis=1)
    inner = np.stack([d + r * np.cos(t_in), r * np.sin(t_in)], axis=1)
    return np.concatenate([outer, inner])


def _heart() -> np.ndarray:
    """Heart, point down (image y axis points down): two round lobes and tangents to a tip."""
    cx, cy, rho, tip = 0.45, -0.3, 0.55, 1.0
    cusp = np.arctan2(-np.sqrt(rho * rho - cx * cx), -cx)  # where the lobes meet, at x = 0
    to_tip = np.array([-cx, tip - cy])
    # Angle of the point on the right lobe whose tangent passes through the tip.
    end = np.arctan2(to_tip[1], to_tip[0]) - np.arccos(rho / np.hypot(*to_tip))
    t = np.linspace(cusp, end, 18)
    right = np.stack([cx + rho * np.cos(t), cy + rho * np.sin(t)], axis=1)
    left = right[::-1] * np.array([-1.0, 1.0])
    return np.concatenate([right, [[0.0, tip]], left[:-1]])


# name, base hue, unit shape, aspect range, rotation range (radians, centred on 0).
# Base hues are 0.1 apart, so the colour families (hue +- HUE_JITTER) never meet.
CATEGORIES: list[tuple[str, float, Callable[[], np.ndarray], tuple[float, float], float]] = [
    ('circle', 0.6, lambda: _regular(32), (0.85, 1.15), np.pi),
    ('square', 0.2, lambda: _regular(4, np.pi / 4), (0.8, 1.25), np.pi / 9),
    ('triangle', 0.4, lambda: _regular(3, -np.pi / 2), (0.8, 1.25), np.pi),
    ('star', 0.1, _star, (0.9, 1.1), np.pi),
    ('hexagon', 0.8, lambda: _regular(6), (0.85, 1.15), np.pi),
    ('cross', 0.0, _cross, (0.85, 1.15), np.pi / 6),
    ('diamond', 0.5, lambda: _regular(4) * np.array([0.55, 1.0]), (0.9, 1.1), np.pi / 9),
    ('arrow', 0.7, _arrow, (0.9, 1.1), np.pi),
    ('crescent', 0.3, _crescent, (0.9, 1.1), np.pi),
    ('heart', 0.9, _heart, (0.9, 1.1), np.pi / 6),
]


def category_hue(category_id: int) -> float:
    """Base hue (0..1) of a category's colour family.

    Args:
        category_id: COCO category id (1-based).

    Returns:
        The hue; object colours lie within ``HUE_JITTER`` of it.
    """
    return CATEGORIES[category_id - 1][1]


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    """HSV (all in 0..1, hue wrapping) to an RGB float array in 0..1."""
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v))


def _bg_colour(rng: np.random.Generator) -> np.ndarray:
    """A muted background colour (RGB floats 0..1)."""
    return _hsv_to_rgb(rng.random(), rng.uniform(*BG_SAT), rng.uniform(*BG_VAL))


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Draw a random background: gradient, radial, noise, stripes or checkerboard.

    Args:
        rng: Random generator of this image.
        size: Image side in pixels.

    Returns:
        Float array (size, size, 3) in 0..1.
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / size
    c1, c2 = _bg_colour(rng), _bg_colour(rng)
    kind = int(rng.integers(5))
    if kind == 0:  # linear gradient
        phi = rng.uniform(0, 2 * np.pi)
        u = xx * np.cos(phi) + yy * np.sin(phi)
        t = (u - u.min()) / (u.max() - u.min())
    elif kind == 1:  # radial gradient
        cx, cy = rng.uniform(0, 1, size=2)
        t = np.hypot(xx - cx, yy - cy)
        t = t / t.max()
    elif kind == 2:  # low-frequency colour noise
        k = int(rng.integers(3, 8))
        grid = np.stack([_bg_colour(rng) for _ in range(k * k)]).reshape(k, k, 3)
        small = Image.fromarray(np.round(grid * 255).astype(np.uint8))
        big = small.resize((size, size), Image.Resampling.BICUBIC)
        return np.asarray(big, dtype=np.float64) / 255.0
    elif kind == 3:  # stripes, soft or hard
        phi = rng.uniform(0, np.pi)
        period = rng.uniform(0.06, 0.25)
        u = (xx * np.cos(phi) + yy * np.sin(phi)) / period
        t = 0.5 + 0.5 * np.sin(2 * np.pi * u + rng.uniform(0, 2 * np.pi))
        if rng.random() < 0.5:
            t = (t > 0.5).astype(np.float64)
    else:  # rotated checkerboard
        phi = rng.uniform(0, np.pi / 2)
        cell = rng.uniform(0.08, 0.25)
        u = (xx * np.cos(phi) + yy * np.sin(phi)) / cell
        v = (-xx * np.sin(phi) + yy * np.cos(phi)) / cell
        t = ((np.floor(u) + np.floor(v)) % 2).astype(np.float64)
    return c1 * (1 - t[..., None]) + c2 * t[..., None]


def _is_simple(poly: np.ndarray) -> bool:
    """Whether a closed polygon is simple (no self-intersection, no touching, no spikes).

    Args:
        poly: Integer vertices, shape (n, 2), without repeating the first vertex.

    Returns:
        True if no two non-adjacent edges meet and no two adjacent edges fold back.
    """
    n = len(poly)
    if n < 3:
        return False
    p = poly.astype(np.int64)
    a, b = p, np.roll(p, -1, axis=0)  # edge i: a[i] -> b[i]

    def cross(o: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return (u[..., 0] - o[..., 0]) * (v[..., 1] - o[..., 1]) - (u[..., 1] - o[..., 1]) * (
            v[..., 0] - o[..., 0]
        )

    # Adjacent edges must not be collinear and pointing back (a spike / zero-length fold).
    d1, d2 = b - a, np.roll(b - a, -1, axis=0)
    collinear = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0] == 0
    backwards = (d1 * d2).sum(axis=1) < 0
    if np.any(collinear & backwards) or np.any((d1 == 0).all(axis=1)):
        return False
    i, j = np.triu_indices(n, k=2)
    keep = ~((i == 0) & (j == n - 1))  # edges 0 and n-1 are adjacent too
    i, j = i[keep], j[keep]
    if len(i) == 0:
        return True
    a1, b1, a2, b2 = a[i], b[i], a[j], b[j]
    o1, o2 = cross(a1, b1, a2), cross(a1, b1, b2)
    o3, o4 = cross(a2, b2, a1), cross(a2, b2, b1)
    boxes_meet = (
        (np.minimum(a1[:, 0], b1[:, 0]) <= np.maximum(a2[:, 0], b2[:, 0]))
        & (np.minimum(a2[:, 0], b2[:, 0]) <= np.maximum(a1[:, 0], b1[:, 0]))
        & (np.minimum(a1[:, 1], b1[:, 1]) <= np.maximum(a2[:, 1], b2[:, 1]))
        & (np.minimum(a2[:, 1], b2[:, 1]) <= np.maximum(a1[:, 1], b1[:, 1]))
    )
    meet = (o1 * o2 <= 0) & (o3 * o4 <= 0) & boxes_meet
    return not bool(np.any(meet))


def polygon_area(poly: np.ndarray) -> float:
    """Area of a simple polygon by the shoelace formula.

    Args:
        poly: Vertices, shape (n, 2).

    Returns:
        The (non-negative) area.
    """
    x, y = poly[:, 0].astype(np.float64), poly[:, 1].astype(np.float64)
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def _shape(rng: np.random.Generator, cat_index: int, radius: float) -> np.ndarray | None:
    """Sample one object polygon of a category, centred near the origin, integer vertices.

    Args:
        rng: Random generator of this image.
        cat_index: 0-based category index.
        radius: Object radius in pixels.

    Returns:
        Integer vertices (n, 2), or None if rounding made the polygon non-simple.
    """
    _, _, unit, aspect_range, rot_range = CATEGORIES[cat_index]
    pts = unit() * radius
    aspect = rng.uniform(*aspect_range)
    pts = pts * np.array([np.sqrt(aspect), 1 / np.sqrt(aspect)])
    theta = rng.uniform(-rot_range, rot_range)
    c, s = np.cos(theta), np.sin(theta)
    pts = pts @ np.array([[c, s], [-s, c]])
    poly = np.round(pts).astype(np.int64)
    # Drop consecutive duplicates created by rounding.
    keep = np.any(poly != np.roll(poly, 1, axis=0), axis=1)
    poly = poly[keep]
    if not _is_simple(poly) or polygon_area(poly) <= 0:
        return None
    return poly


def _boxes_clear(box: tuple[int, int, int, int], boxes: list[tuple[int, int, int, int]]) -> bool:
    """Whether box (x0, y0, x1, y1) keeps ``BOX_MARGIN`` px from every box in ``boxes``."""
    x0, y0, x1, y1 = box
    for u0, v0, u1, v1 in boxes:
        if (
            x0 <= u1 + BOX_MARGIN
            and u0 <= x1 + BOX_MARGIN
            and y0 <= v1 + BOX_MARGIN
            and v0 <= y1 + BOX_MARGIN
        ):
            return False
    return True


def _layout(
    rng: np.random.Generator, size: int, min_objects: int, max_objects: int
) -> list[tuple[int, np.ndarray]]:
    """Choose distinct categories and place their polygons without box overlap.

    Each object gets rounds of 10 random positions; after a failed round its shape is
    re-sampled 15% smaller. The first ``min_objects`` objects get 30 rounds (shrinking down
    to a few pixels), later ones 6 rounds, after which they are dropped.
    If even the first ones don't fit, the whole layout is drawn again (10 times at most).

    Args:
        rng: Random generator of this image.
        size: Image side in pixels.
        min_objects: Minimum number of objects.
        max_objects: Maximum number of objects.

    Returns:
        List of (0-based category index, integer polygon in image coordinates).

    Raises:
        RuntimeError: If ``min_objects`` objects cannot be placed.
    """
    for _ in range(10):
        objects = _try_layout(rng, size, min_objects, max_objects)
        if len(objects) >= min_objects:
            return objects
    raise RuntimeError(
        f'could not place {min_objects} objects in a {size}x{size} image; '
        'use a larger --img-size or a smaller --min-objects'
    )


def _try_layout(
    rng: np.random.Generator, size: int, min_objects: int, max_objects: int
) -> list[tuple[int, np.ndarray]]:
    """One placement attempt of :func:`_layout`; may return fewer than ``min_objects``."""
    k = int(rng.integers(min_objects, max_objects + 1))
    cats = rng.permutation(len(CATEGORIES))[:k]
    objects: list[tuple[int, np.ndarray]] = []
    boxes: list[tuple[int, int, int, int]] = []
    lo, hi = EDGE_MARGIN, size - 1 - EDGE_MARGIN
    for rank, cat in enumerate(cats):
        required = rank < min_objects
        radius = rng.uniform(*RADIUS_RANGE) * size
        rounds = 30 if required else 6
        for _ in range(rounds):
            poly = _shape(rng, int(cat), radius)
            if poly is not None:
                (mx, my), (nx, ny) = poly.min(axis=0), poly.max(axis=0)
                if nx - mx <= hi - lo and ny - my <= hi - lo:
                    xs = rng.integers(lo - mx, hi - nx + 1, size=10)
                    ys = rng.integers(lo - my, hi - ny + 1, size=10)
                    placed = False
                    for tx, ty in zip(xs.tolist(), ys.tolist()):
                        box = (mx + tx, my + ty, nx + tx, ny + ty)
                        if _boxes_clear(box, boxes):
                            boxes.append(box)
                            objects.append((int(cat), poly + np.array([tx, ty])))
                            placed = True
                            break
                    if placed:
                        break
            radius = max(radius * 0.85, 4.0)
    return objects


def _render(
    rng: np.random.Generator, size: int, min_objects: int, max_objects: int
) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    """Render one scene.

    Args:
        rng: Random generator of this image.
        size: Image side in pixels.
        min_objects: Minimum number of objects.
        max_objects: Maximum number of objects.

    Returns:
        The uint8 RGB image (size, size, 3) and its objects as (category index, polygon).
    """
    bg = _background(rng, size)
    img = Image.fromarray(np.round(np.clip(bg, 0, 1) * 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    objects = _layout(rng, size, min_objects, max_objects)
    for cat, poly in objects:
        hue = CATEGORIES[cat][1] + rng.uniform(-HUE_JITTER, HUE_JITTER)
        rgb = _hsv_to_rgb(hue, rng.uniform(*OBJ_SAT), rng.uniform(*OBJ_VAL))
        fill = tuple(int(round(c * 255)) for c in rgb)
        draw.polygon([(int(x), int(y)) for x, y in poly], fill=fill)
    arr = np.asarray(img, dtype=np.float64)
    arr = arr + rng.normal(0.0, NOISE_STD, size=arr.shape)
    return np.clip(np.round(arr), 0, 255).astype(np.uint8), objects


def _params(
    num_images: int,
    img_size: int,
    seed: int,
    min_objects: int,
    max_objects: int,
    val_fraction: float,
) -> dict[str, Any]:
    """The generation parameters stored in (and compared against) ``info``."""
    return {
        'generator_version': GENERATOR_VERSION,
        'num_images': num_images,
        'img_size': img_size,
        'seed': seed,
        'min_objects': min_objects,
        'max_objects': max_objects,
        'val_fraction': val_fraction,
    }


def _paths(out_dir: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """Image folders and annotation files per split."""
    img_dirs = {s: out_dir / 'images' / s for s in SPLITS}
    ann_files = {s: out_dir / 'annotations' / f'instances_{s}.json' for s in SPLITS}
    return img_dirs, ann_files


def _load_if_up_to_date(out_dir: Path, params: dict[str, Any]) -> dict[str, dict] | None:
    """Load both jsons if they hold ``params`` and all their images exist, else None."""
    img_dirs, ann_files = _paths(out_dir)
    loaded = {}
    for split in SPLITS:
        try:
            data = json.loads(ann_files[split].read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get('info', {}).get('generator_params') != params:
            return None
        if not all((img_dirs[split] / im['file_name']).is_file() for im in data['images']):
            return None
        loaded[split] = data
    return loaded


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``."""
    tmp = path.with_name(path.name + '.tmp')
    with open(tmp, 'w') as f:
        json.dump(data, f, separators=(',', ':'))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def generate(
    out_dir: str | os.PathLike = 'data/demo_scenes',
    num_images: int = 300,
    img_size: int = 160,
    seed: int = 0,
    min_objects: int = 2,
    max_objects: int = 5,
    val_fraction: float = 0.2,
    force: bool = False,
) -> dict[str, Any]:
    """Generate (or verify) the demo scene dataset.

    Args:
        out_dir: Output root folder.
        num_images: Total number of images over both splits.
        img_size: Side of the square images in pixels (at least 48).
        seed: Seed; the output is a deterministic function of all parameters.
        min_objects: Minimum number of objects per image.
        max_objects: Maximum number of objects per image (at most the number of categories).
        val_fraction: Fraction of images in the val split (the last ones); in [0, 1).
        force: Regenerate even if an up-to-date output exists.

    Returns:
        Summary with keys ``out_dir``, ``skipped`` (True if the output was up to date),
        ``num_images``, ``num_train``, ``num_val``, ``num_objects``, ``seconds``,
        ``ann_files`` and ``img_dirs`` (dicts split -> path string).

    Raises:
        ValueError: If a parameter is out of range.
        RuntimeError: If ``min_objects`` objects cannot be placed in an image.
    """
    if num_images < 1:
        raise ValueError(f'num_images must be >= 1, got {num_images}')
    if img_size < 48:
        raise ValueError(f'img_size must be >= 48, got {img_size}')
    if not 1 <= min_objects <= max_objects <= len(CATEGORIES):
        raise ValueError(
            f'need 1 <= min_objects <= max_objects <= {len(CATEGORIES)}, '
            f'got {min_objects}, {max_objects}'
        )
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f'val_fraction must be in [0, 1), got {val_fraction}')

    start = time.perf_counter()
    out = Path(out_dir)
    params = _params(num_images, img_size, seed, min_objects, max_objects, float(val_fraction))
    img_dirs, ann_files = _paths(out)
    summary: dict[str, Any] = {
        'out_dir': str(out),
        'ann_files': {s: str(p) for s, p in ann_files.items()},
        'img_dirs': {s: str(p) for s, p in img_dirs.items()},
    }

    existing = None if force else _load_if_up_to_date(out, params)
    if existing is not None:
        summary.update(
            skipped=True,
            num_images=sum(len(d['images']) for d in existing.values()),
            num_train=len(existing['train']['images']),
            num_val=len(existing['val']['images']),
            num_objects=sum(len(d['annotations']) for d in existing.values()),
            seconds=time.perf_counter() - start,
        )
        return summary

    # Invalidate first: remove the jsons, then stale images of ours.
    for path in ann_files.values():
        path.unlink(missing_ok=True)
    for d in img_dirs.values():
        d.mkdir(parents=True, exist_ok=True)
        for stale in d.glob(f'{IMAGE_PREFIX}*.jpg'):
            stale.unlink()
    ann_files['train'].parent.mkdir(parents=True, exist_ok=True)

    num_val = int(round(num_images * val_fraction))
    if val_fraction > 0 and num_images > 1:
        num_val = max(num_val, 1)
    num_val = min(num_val, num_images - 1)
    num_train = num_images - num_val

    categories = [
        {'id': i + 1, 'name': name, 'supercategory': 'shape'}
        for i, (name, *_) in enumerate(CATEGORIES)
    ]
    datasets = {
        s: {
            'info': {
                'description': f'MLS demo scenes ({s}): procedural multi-object images',
                'version': str(GENERATOR_VERSION),
                'contributor': 'tools/generate_demo_scenes.py',
                'generator_params': params,
            },
            'licenses': [],
            'images': [],
            'annotations': [],
            'categories': categories,
        }
        for s in SPLITS
    }
    children = np.random.SeedSequence(seed).spawn(num_images)
    ann_id = 0
    for index, child in enumerate(children):
        rng = np.random.default_rng(child)
        split = 'train' if index < num_train else 'val'
        pixels, objects = _render(rng, img_size, min_objects, max_objects)
        file_name = f'{IMAGE_PREFIX}{index:06d}.jpg'
        Image.fromarray(pixels).save(img_dirs[split] / file_name, quality=JPEG_QUALITY)
        image_id = index + 1
        data = datasets[split]
        data['images'].append(
            {'id': image_id, 'file_name': file_name, 'width': img_size, 'height': img_size}
        )
        for cat, poly in objects:
            ann_id += 1
            (x0, y0), (x1, y1) = poly.min(axis=0), poly.max(axis=0)
            data['annotations'].append(
                {
                    'id': ann_id,
                    'image_id': image_id,
                    'category_id': cat + 1,
                    'bbox': [int(x0), int(y0), int(x1 - x0), int(y1 - y0)],
                    'segmentation': [[int(v) for v in poly.reshape(-1)]],
                    'area': polygon_area(poly),
                    'iscrowd': 0,
                }
            )

    # The jsons go last: only a complete run leaves an up-to-date dataset.
    for split in SPLITS:
        _write_json_atomic(ann_files[split], datasets[split])
    summary.update(
        skipped=False,
        num_images=num_images,
        num_train=num_train,
        num_val=num_val,
        num_objects=ann_id,
        seconds=time.perf_counter() - start,
    )
    return summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Generate synthetic multi-object scenes (JPEG + COCO json) for the demo.'
    )
    parser.add_argument('--out-dir', default='data/demo_scenes', help='output root folder')
    parser.add_argument('--num-images', type=int, default=300, help='images over both splits')
    parser.add_argument('--img-size', type=int, default=160, help='side of the square images')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--min-objects', type=int, default=2, help='min objects per image')
    parser.add_argument('--max-objects', type=int, default=5, help='max objects per image')
    parser.add_argument(
        '--val-fraction', type=float, default=0.2, help='fraction of images in the val split'
    )
    parser.add_argument('--force', action='store_true', help='regenerate even if up to date')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    args = parse_args(argv)
    try:
        summary = generate(
            args.out_dir,
            num_images=args.num_images,
            img_size=args.img_size,
            seed=args.seed,
            min_objects=args.min_objects,
            max_objects=args.max_objects,
            val_fraction=args.val_fraction,
            force=args.force,
        )
    except (ValueError, RuntimeError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    if summary['skipped']:
        print(
            f'{summary["out_dir"]} is up to date ({summary["num_images"]} images, '
            f'{summary["num_objects"]} objects); use --force to regenerate'
        )
    else:
        print(
            f'wrote {summary["num_images"]} images ({summary["num_train"]} train, '
            f'{summary["num_val"]} val) with {summary["num_objects"]} objects to '
            f'{summary["out_dir"]} in {summary["seconds"]:.1f} s'
        )
    return 0


if __name__ == '__main__':
    sys.exit(main())
