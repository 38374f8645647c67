"""Generate the embedded demo dataset: synthetic multi-object scenes in COCO format.

The project's demo job (``make demo``) pretrains MLS on scene images and should need no
download, so this tool draws such a dataset procedurally. Each 64 px image shows 1 to 3 objects
of distinct categories on a muted random background. A category is a silhouette (disk, square,
triangle, cross) with a fill texture (solid, stripes, checker, dots, rings): 20 categories that
only shape and texture tell apart. Colours, size, aspect, rotation, position, the texture's
orientation and phase and the background are drawn per object or image, independently of the
category, so that neither an untrained network's colour statistics nor colour-jitter invariance
decide the task; object colours are muted, so that they do not identify a scene either (what
self-supervision would otherwise learn). Objects cover 30 % of a scene on average and
backgrounds are smooth, so that views of 60 to 100 % of a scene hold objects, not patterns
that only identify the image. Two random scenes share a category with probability ~0.19 (the
chance level of MLS's pseudo-label precision), which leaves room to measure what pretraining
learned.

Objects never overlap (a pixel of background stays between them), and each object's mask is one
simple polygon with integer vertices; the very same vertex list is drawn and written to the
json, so boxes, masks and pixels agree exactly. The parts live in ``tools/demo_scenes/``.

Output layout (``file_name`` is relative to the split's image folder)::

    <out-dir>/images/train/scene_000000.jpg ...
    <out-dir>/images/val/scene_003000.jpg ...
    <out-dir>/annotations/instances_train.json
    <out-dir>/annotations/instances_val.json

The output is a pure function of the parameters (same seed, same bytes). The parameters are
stored in each json's ``info['generator_params']``; if both jsons exist with matching parameters
and all their images are present, the tool reports that the data is up to date and exits at
once (use ``--force`` to regenerate anyway). The jsons are written last, through a temporary
file and ``os.replace``, so an interrupted run never leaves a valid-looking dataset behind.

Usage::

    python tools/generate_demo_scenes.py                  # 3000 train + 600 val, 64x64
    python tools/generate_demo_scenes.py --out-dir /tmp/scenes --num-train 50 --num-val 10
    python tools/generate_demo_scenes.py --force          # regenerate even if up to date

Only NumPy and Pillow are needed.
"""

from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from demo_scenes import (  # noqa: E402
    CATEGORIES,
    SPLITS,
    expected_chance_precision,
    measured_chance_precision,
    render_scene,
)
from demo_scenes.coco import (  # noqa: E402
    IMAGE_PREFIX,
    annotation,
    empty_dataset,
    image_name,
    load_if_up_to_date,
    split_paths,
    write_json_atomic,
)

# Bump whenever the drawing changes, so that existing outputs are regenerated.
GENERATOR_VERSION = 3

JPEG_QUALITY = 90
# 4:4:4 chroma: the default 4:2:0 halves colour resolution, which smears 3 px texture cells
# of different hues into grey.
JPEG_SUBSAMPLING = 0
MIN_IMG_SIZE = 48  # below this, three objects with legible textures no longer fit

DEFAULTS: dict[str, Any] = {
    'num_train': 3000,
    'num_val': 600,
    'img_size': 64,
    'seed': 0,
    'min_objects': 1,
    'max_objects': 3,
}


def _params(
    num_train: int, num_val: int, img_size: int, seed: int, min_objects: int, max_objects: int
) -> dict[str, Any]:
    """The generation parameters stored in (and compared against) ``info``."""
    # Plain ints: NumPy integers would not serialise to json.
    return {
        'generator_version': GENERATOR_VERSION,
        'num_train': int(num_train),
        'num_val': int(num_val),
        'img_size': int(img_size),
        'seed': int(seed),
        'min_objects': int(min_objects),
        'max_objects': int(max_objects),
    }


def _check(
    num_train: int, num_val: int, img_size: int, seed: int, min_objects: int, max_objects: int
) -> None:
    """Reject out-of-range parameters, naming the command-line option.

    Raises:
        ValueError: If a parameter is out of range.
    """
    for option, value in (
        ('--num-train', num_train),
        ('--num-val', num_val),
        ('--img-size', img_size),
        ('--seed', seed),
        ('--min-objects', min_objects),
        ('--max-objects', max_objects),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f'{option} must be an integer, got {value!r}')
    if num_train < 1:
        raise ValueError(f'--num-train must be >= 1, got {num_train}')
    if num_val < 0:
        raise ValueError(f'--num-val must be >= 0, got {num_val}')
    if img_size < MIN_IMG_SIZE:
        raise ValueError(f'--img-size must be >= {MIN_IMG_SIZE}, got {img_size}')
    if seed < 0:
        raise ValueError(f'--seed must be >= 0, got {seed}')
    if min_objects < 1:
        raise ValueError(f'--min-objects must be >= 1, got {min_objects}')
    if not min_objects <= max_objects <= len(CATEGORIES):
        raise ValueError(
            f'--max-objects must be in [--min-objects, {len(CATEGORIES)}] '
            f'(the number of categories), got {max_objects} with --min-objects {min_objects}'
        )


def _scene_stats(datasets: dict[str, dict]) -> dict[str, Any]:
    """Per split: histogram and mean of the objects per scene, and the measured chance precision."""
    stats: dict[str, Any] = {}
    for split, data in datasets.items():
        labels: dict[int, set[int]] = {im['id']: set() for im in data['images']}
        counts: dict[int, int] = dict.fromkeys(labels, 0)
        for ann in data['annotations']:
            labels[ann['image_id']].add(ann['category_id'])
            counts[ann['image_id']] += 1
        stats[split] = {
            'objects_per_scene': np.bincount(list(counts.values())).tolist() if counts else [],
            'mean_objects': float(np.mean(list(counts.values()))) if counts else float('nan'),
            'chance_precision': measured_chance_precision(list(labels.values())),
        }
    return stats


def generate(
    out_dir: str | os.PathLike = 'data/demo_scenes',
    num_train: int = DEFAULTS['num_train'],
    num_val: int = DEFAULTS['num_val'],
    img_size: int = DEFAULTS['img_size'],
    seed: int = DEFAULTS['seed'],
    min_objects: int = DEFAULTS['min_objects'],
    max_objects: int = DEFAULTS['max_objects'],
    force: bool = False,
) -> dict[str, Any]:
    """Generate (or verify) the demo scene dataset.

    Args:
        out_dir: Output root folder.
        num_train: Number of train images (the first global indices).
        num_val: Number of val images (the following ones); may be 0.
        img_size: Side of the square images in pixels (at least ``MIN_IMG_SIZE``).
        seed: Seed (>= 0); the output is a deterministic function of all parameters, and an
            image's content depends only on the seed, its global index and the drawing
            parameters.
        min_objects: Minimum number of objects per image (>= 1).
        max_objects: Maximum number of objects per image (at most the number of categories).
        force: Regenerate even if an up-to-date output exists.

    Returns:
        Summary with keys ``out_dir``, ``skipped`` (True if the output was up to date),
        ``num_images``, ``num_train``, ``num_val``, ``num_objects``, ``seconds`` (wall clock),
        ``cpu_seconds`` (this process), ``expected_chance_precision``, ``stats`` (per split:
        ``objects_per_scene`` histogram, ``mean_objects``, measured ``chance_precision``),
        ``ann_files`` and ``img_dirs`` (dicts split -> path string).

    Raises:
        ValueError: If a parameter is out of range (the message names the option).
        RuntimeError: If the objects cannot be placed in an image.
    """
    _check(num_train, num_val, img_size, seed, min_objects, max_objects)
    start, start_cpu = time.perf_counter(), time.process_time()
    out = Path(out_dir)
    params = _params(num_train, num_val, img_size, seed, min_objects, max_objects)
    img_dirs, ann_files = split_paths(out)
    summary: dict[str, Any] = {
        'out_dir': str(out),
        'ann_files': {s: str(p) for s, p in ann_files.items()},
        'img_dirs': {s: str(p) for s, p in img_dirs.items()},
        'expected_chance_precision': expected_chance_precision(
            len(CATEGORIES), min_objects, max_objects
        ),
    }

    existing = None if force else load_if_up_to_date(out, params)
    if existing is not None:
        summary.update(
            skipped=True,
            num_images=num_train + num_val,
            num_train=num_train,
            num_val=num_val,
            num_objects=sum(len(d['annotations']) for d in existing.values()),
            stats=_scene_stats(existing),
            seconds=time.perf_counter() - start,
            cpu_seconds=time.process_time() - start_cpu,
        )
        return summary

    # Invalidate first: remove the jsons, then the images of ours that this run will not
    # overwrite (removing all of them would double the file-system work of a regeneration).
    num_images = num_train + num_val
    for path in ann_files.values():
        path.unlink(missing_ok=True)
    for split, d in img_dirs.items():
        d.mkdir(parents=True, exist_ok=True)
        first, stop = (0, num_train) if split == 'train' else (num_train, num_images)
        keep = {image_name(i) for i in range(first, stop)}
        for stale in d.glob(f'{IMAGE_PREFIX}*.jpg'):
            if stale.name not in keep:
                stale.unlink()
    ann_files['train'].parent.mkdir(parents=True, exist_ok=True)

    datasets = {s: empty_dataset(s, params, GENERATOR_VERSION) for s in SPLITS}
    # One independent stream per image: image i does not change when the counts do.
    children = np.random.SeedSequence(seed).spawn(num_images)
    ann_id = 0
    for index, child in enumerate(children):
        rng = np.random.default_rng(child)
        split = 'train' if index < num_train else 'val'
        pixels, objects = render_scene(rng, img_size, min_objects, max_objects)
        file_name = image_name(index)
        Image.fromarray(pixels).save(
            img_dirs[split] / file_name, quality=JPEG_QUALITY, subsampling=JPEG_SUBSAMPLING
        )
        image_id = index + 1
        data = datasets[split]
        data['images'].append(
            {'id': image_id, 'file_name': file_name, 'width': img_size, 'height': img_size}
        )
        for obj in objects:
            ann_id += 1
            data['annotations'].append(annotation(ann_id, image_id, obj.category + 1, obj.polygon))

    # The jsons go last: only a complete run leaves an up-to-date dataset.
    for split in SPLITS:
        write_json_atomic(ann_files[split], datasets[split])
    summary.update(
        skipped=False,
        num_images=num_images,
        num_train=num_train,
        num_val=num_val,
        num_objects=ann_id,
        stats=_scene_stats(datasets),
        seconds=time.perf_counter() - start,
        cpu_seconds=time.process_time() - start_cpu,
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
    parser.add_argument(
        '--num-train', type=int, default=DEFAULTS['num_train'], help='number of train images'
    )
    parser.add_argument(
        '--num-val', type=int, default=DEFAULTS['num_val'], help='number of val images (>= 0)'
    )
    parser.add_argument(
        '--img-size', type=int, default=DEFAULTS['img_size'], help='side of the square images'
    )
    parser.add_argument('--seed', type=int, default=DEFAULTS['seed'], help='random seed (>= 0)')
    parser.add_argument(
        '--min-objects', type=int, default=DEFAULTS['min_objects'], help='min objects per image'
    )
    parser.add_argument(
        '--max-objects', type=int, default=DEFAULTS['max_objects'], help='max objects per image'
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
            num_train=args.num_train,
            num_val=args.num_val,
            img_size=args.img_size,
            seed=args.seed,
            min_objects=args.min_objects,
            max_objects=args.max_objects,
            force=args.force,
        )
    except (ValueError, RuntimeError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    train = summary['stats']['train']
    counts = ', '.join(f'{k}: {n}' for k, n in enumerate(train['objects_per_scene']) if k and n)
    details = (
        f'{len(CATEGORIES)} categories; train objects per scene {counts} '
        f'(mean {train["mean_objects"]:.2f}); chance precision {train["chance_precision"]:.3f} '
        f'(expected {summary["expected_chance_precision"]:.3f})'
    )
    if summary['skipped']:
        print(
            f'{summary["out_dir"]} is up to date ({summary["num_images"]} images, '
            f'{summary["num_objects"]} objects; {details}); use --force to regenerate'
        )
    else:
        print(
            f'wrote {summary["num_images"]} images ({summary["num_train"]} train, '
            f'{summary["num_val"]} val) of {args.img_size}x{args.img_size} px with '
            f'{summary["num_objects"]} objects to {summary["out_dir"]} in '
            f'{summary["seconds"]:.1f} s ({summary["cpu_seconds"]:.1f} s CPU); {details}'
        )
    return 0


if __name__ == '__main__':
    sys.exit(main())
