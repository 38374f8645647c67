"""COCO json records, the up-to-date check and atomic writes of the demo dataset."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .categories import coco_categories

SPLITS = ('train', 'val')
IMAGE_PREFIX = 'scene_'


def split_paths(out_dir: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """Image folders and annotation files per split.

    Args:
        out_dir: Output root folder.

    Returns:
        ``(img_dirs, ann_files)``, each a dict split -> path.
    """
    img_dirs = {s: out_dir / 'images' / s for s in SPLITS}
    ann_files = {s: out_dir / 'annotations' / f'instances_{s}.json' for s in SPLITS}
    return img_dirs, ann_files


def image_name(index: int) -> str:
    """File name of the scene with a 0-based global index (train first, then val)."""
    return f'{IMAGE_PREFIX}{index:06d}.jpg'


def empty_dataset(split: str, params: dict[str, Any], version: int) -> dict[str, Any]:
    """A COCO instances dict without images or annotations yet.

    Args:
        split: ``'train'`` or ``'val'``.
        params: Generation parameters, stored for the up-to-date check.
        version: Generator version.

    Returns:
        The dict, with ``info``, ``licenses``, ``images``, ``annotations`` and ``categories``.
    """
    return {
        'info': {
            'description': f'MLS demo scenes ({split}): procedural multi-object images',
            'version': str(version),
            'contributor': 'tools/generate_demo_scenes.py',
            'generator_params': params,
        },
        'licenses': [],
        'images': [],
        'annotations': [],
        'categories': coco_categories(),
    }


def shoelace_area(xs: list[int], ys: list[int]) -> float:
    """Area of a simple polygon from its vertex coordinates (plain Python: a few vertices).

    Args:
        xs: x coordinates of the vertices.
        ys: y coordinates of the vertices.

    Returns:
        The (non-negative) area.
    """
    twice = sum(x * y1 - y * x1 for x, y, x1, y1 in zip(xs, ys, xs[1:] + xs[:1], ys[1:] + ys[:1]))
    return abs(twice) / 2.0


def annotation(ann_id: int, image_id: int, category_id: int, poly: np.ndarray) -> dict[str, Any]:
    """The COCO annotation of one object.

    Args:
        ann_id: Annotation id.
        image_id: Image id.
        category_id: COCO category id (1-based).
        poly: Integer vertices (n, 2), the very list drawn in the image.

    Returns:
        The record: tight ``bbox`` [x, y, w, h] over the vertices, one polygon in
        ``segmentation``, its shoelace ``area`` and ``iscrowd`` 0.
    """
    coords = [int(v) for v in poly.reshape(-1).tolist()]
    xs, ys = coords[0::2], coords[1::2]
    x0, y0 = min(xs), min(ys)
    return {
        'id': ann_id,
        'image_id': image_id,
        'category_id': category_id,
        'bbox': [x0, y0, max(xs) - x0, max(ys) - y0],
        'segmentation': [coords],
        'area': shoelace_area(xs, ys),
        'iscrowd': 0,
    }


def load_if_up_to_date(out_dir: Path, params: dict[str, Any]) -> dict[str, dict] | None:
    """Load both jsons if they hold ``params`` and all their images exist.

    Args:
        out_dir: Output root folder.
        params: The parameters the output must have been generated with.

    Returns:
        Dict split -> loaded json, or None if anything is missing, unreadable or different.
    """
    img_dirs, ann_files = split_paths(out_dir)
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


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    Args:
        path: Destination.
        data: JSON-serialisable dict.
    """
    tmp = path.with_name(path.name + '.tmp')
    with open(tmp, 'w') as f:
        # dumps, not dump: only the one-shot encoder is the C one, ten times faster.
        f.write(json.dumps(data, separators=(',', ':')))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
