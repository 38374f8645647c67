"""Tests of tools/generate_demo_scenes.py: determinism, COCO geometry, category design, pixels,
idempotence.

The statistics (chance precision, colour vs category) are computed here from the written json
and images, independently of the generator's own code.
"""

from __future__ import annotations

import colorsys
import importlib.util
import json
import sys
from itertools import combinations
from math import comb
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'generate_demo_scenes.py'
SPLITS = ('train', 'val')
NUM_CATEGORIES = 20
SIZE = 64
PARAMS = dict(num_train=40, num_val=8, img_size=SIZE, seed=0, min_objects=1, max_objects=3)
# Enough objects (~30 per category) for the per-category statistics.
STATS_PARAMS = {**PARAMS, 'num_train': 300, 'num_val': 0, 'seed': 7}


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location('generate_demo_scenes', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_tool()


@pytest.fixture(scope='module')
def scenes(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('scenes') / 'demo'
    summary = gen.generate(out, **PARAMS)
    assert not summary['skipped']
    return out


@pytest.fixture(scope='module')
def saturated_scenes(tmp_path_factory) -> Path:
    """The same drawing with saturated object colours (the defaults are muted): the colour
    then tells an object's pixels from the background's, which checks the geometry."""
    out = tmp_path_factory.mktemp('saturated') / 'demo'
    textures = sys.modules['demo_scenes.textures']
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(textures, 'LIGHT_SAT', (0.6, 1.0))
        patch.setattr(textures, 'DARK_SAT', (0.7, 1.0))
        gen.generate(out, **PARAMS)
    return out


@pytest.fixture(scope='module')
def stats_scenes(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp('stats') / 'demo'
    summary = gen.generate(out, **STATS_PARAMS)
    return out, summary


def _load(out: Path, split: str) -> dict:
    return json.loads((out / 'annotations' / f'instances_{split}.json').read_text())


def _pixels(out: Path, split: str, file_name: str) -> np.ndarray:
    with Image.open(out / 'images' / split / file_name) as img:
        return np.asarray(img.convert('RGB'))


def _polygon(ann: dict) -> np.ndarray:
    (seg,) = ann['segmentation']
    return np.asarray(seg, dtype=np.float64).reshape(-1, 2)


def _shoelace(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))) / 2


def _mask(ann: dict, size: int = SIZE) -> Image.Image:
    mask = Image.new('L', (size, size), 0)
    ImageDraw.Draw(mask).polygon([tuple(p) for p in _polygon(ann).tolist()], fill=255)
    return mask


def _by_image(data: dict) -> dict[int, list[dict]]:
    groups: dict[int, list[dict]] = {im['id']: [] for im in data['images']}
    for ann in data['annotations']:
        groups[ann['image_id']].append(ann)
    return groups


def _saturation(rgb: np.ndarray) -> np.ndarray:
    """HSV saturation of (n, 3) uint8 colours."""
    rgb = rgb.astype(np.float64)
    hi, lo = rgb.max(axis=1), rgb.min(axis=1)
    return np.where(hi > 0, (hi - lo) / np.maximum(hi, 1), 0.0)


def _segments_meet(poly: np.ndarray) -> bool:
    """Whether two non-adjacent edges of a closed polygon meet (brute force)."""
    n = len(poly)
    edges = [(poly[i], poly[(i + 1) % n]) for i in range(n)]

    def orient(o, a, b) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    def on_segment(p, a, b) -> bool:
        return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(
            a[1], b[1]
        )

    for i, j in combinations(range(n), 2):
        if j == i + 1 or (i == 0 and j == n - 1):
            continue
        (a, b), (c, d) = edges[i], edges[j]
        o1, o2, o3, o4 = orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
        if o1 * o2 < 0 and o3 * o4 < 0:
            return True
        for o, p, (s, t) in ((o1, c, (a, b)), (o2, d, (a, b)), (o3, a, (c, d)), (o4, b, (c, d))):
            if o == 0 and on_segment(p, s, t):
                return True
    return False


def _object_colours(out: Path, data: dict, split: str = 'train') -> tuple[np.ndarray, np.ndarray]:
    """Mean RGB (0..255) of each object's inner pixels, and its category id."""
    groups = _by_image(data)
    colours, cats = [], []
    for im in data['images']:
        pixels = _pixels(out, split, im['file_name']).astype(np.float64)
        for ann in groups[im['id']]:
            inner = np.asarray(_mask(ann).filter(ImageFilter.MinFilter(3))) > 0
            colours.append(pixels[inner].mean(axis=0))
            cats.append(ann['category_id'])
    return np.array(colours), np.array(cats)


def _all_files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob('*')) if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs(scenes, tmp_path):
    again = tmp_path / 'again'
    gen.generate(again, **PARAMS)
    ref = _all_files(scenes)
    assert len(ref) == 48 + 2
    assert _all_files(again) == ref  # every json and image, byte for byte

    other = tmp_path / 'other'
    gen.generate(other, **{**PARAMS, 'seed': 1})
    files = _all_files(other)
    assert files.keys() == ref.keys()
    assert not any(files[k] == ref[k] for k in ref)


def test_layout_split_and_coco_fields(scenes):
    train, val = _load(scenes, 'train'), _load(scenes, 'val')
    assert (len(train['images']), len(val['images'])) == (40, 8)
    image_ids = [im['id'] for d in (train, val) for im in d['images']]
    ann_ids = [a['id'] for d in (train, val) for a in d['annotations']]
    assert sorted(image_ids) == list(range(1, 49)) and len(set(ann_ids)) == len(ann_ids)
    assert [im['file_name'] for im in val['images']][0] == 'scene_000040.jpg'
    for split, data in zip(SPLITS, (train, val)):
        assert set(data) >= {'info', 'images', 'annotations', 'categories'}
        params = data['info']['generator_params']
        assert params['seed'] == 0 and params['generator_version'] == gen.GENERATOR_VERSION
        names = [c['name'] for c in data['categories']]
        assert len(names) == len(set(names)) == NUM_CATEGORIES
        assert [c['id'] for c in data['categories']] == list(range(1, NUM_CATEGORIES + 1))
        listed = sorted(im['file_name'] for im in data['images'])
        assert listed == sorted(p.name for p in (scenes / 'images' / split).glob('*.jpg'))
        for im in data['images']:
            with Image.open(scenes / 'images' / split / im['file_name']) as img:
                assert img.format == 'JPEG' and img.mode == 'RGB'
                assert img.size == (im['width'], im['height']) == (SIZE, SIZE)
        for ann in data['annotations']:
            assert set(ann) >= {'id', 'image_id', 'category_id', 'bbox', 'area', 'segmentation'}
            assert ann['iscrowd'] == 0


def test_categories_are_silhouette_times_texture(scenes):
    """Each name is '<shape>_<texture>', every combination of a few of each occurs once."""
    names = [c['name'] for c in _load(scenes, 'train')['categories']]
    shapes = {n.split('_')[0] for n in names}
    textures = {n.split('_')[1] for n in names}
    assert len(shapes) >= 3 and len(textures) >= 3
    assert sorted(names) == sorted(f'{s}_{t}' for s in shapes for t in textures)


def test_boxes_polygons_and_areas(scenes):
    for split in SPLITS:
        data = _load(scenes, split)
        sizes = {im['id']: (im['width'], im['height']) for im in data['images']}
        for ann in data['annotations']:
            assert 1 <= ann['category_id'] <= NUM_CATEGORIES
            (seg,) = ann['segmentation']
            assert all(isinstance(v, int) for v in seg)
            poly = _polygon(ann)
            assert len(poly) >= 3 and not _segments_meet(poly)  # one simple polygon
            x, y, w, h = ann['bbox']
            width, height = sizes[ann['image_id']]
            assert w > 0 and h > 0
            assert 0 <= x and 0 <= y and x + w <= width - 1 and y + h <= height - 1
            # The box is tight: vertices touch all four sides.
            assert poly[:, 0].min() == x and poly[:, 0].max() == x + w
            assert poly[:, 1].min() == y and poly[:, 1].max() == y + h
            assert ann['area'] > 0
            assert ann['area'] == pytest.approx(_shoelace(poly), abs=1e-9)


def test_one_to_three_objects_of_distinct_categories_that_do_not_overlap(scenes):
    counts = []
    for split in SPLITS:
        for anns in _by_image(_load(scenes, split)).values():
            cats = [a['category_id'] for a in anns]
            assert len(cats) == len(set(cats))
            assert 1 <= len(anns) <= 3
            counts.append(len(anns))
            masks = [np.asarray(_mask(a)) > 0 for a in anns]
            for a, b in combinations(masks, 2):
                assert not np.any(a & b)  # no object hides another
    assert set(counts) == {1, 2, 3}


def test_pycocotools_reads_the_json(scenes):
    coco_mod = pytest.importorskip('pycocotools.coco')
    for split in SPLITS:
        coco = coco_mod.COCO(str(scenes / 'annotations' / f'instances_{split}.json'))
        assert len(coco.getImgIds()) == len(_load(scenes, split)['images'])
        assert len(coco.getCatIds()) == NUM_CATEGORIES
        for ann in coco.loadAnns(coco.getAnnIds()):
            mask = coco.annToMask(ann)
            assert mask.shape == (SIZE, SIZE)
            poly = _polygon(ann)
            perimeter = np.linalg.norm(poly - np.roll(poly, 1, axis=0), axis=1).sum()
            assert mask.sum() > 0
            assert abs(int(mask.sum()) - ann['area']) <= 0.2 * perimeter + 1
            ys, xs = np.nonzero(mask)
            x, y, w, h = ann['bbox']
            assert x <= xs.min() and xs.max() <= x + w and y <= ys.min() and ys.max() <= y + h


def test_pixels_inside_polygons_differ_from_the_background(saturated_scenes):
    """Objects are saturated right up to their polygon's edge, the background around is not.

    Fails if drawn shapes and json polygons were misaligned by more than a pixel.
    """
    scenes = saturated_scenes
    checked = 0
    for split in SPLITS:
        data = _load(scenes, split)
        groups = _by_image(data)
        for im in data['images']:
            pixels = _pixels(scenes, split, im['file_name']).reshape(-1, 3)
            anns = groups[im['id']]
            masks = [_mask(a) for a in anns]
            near_any = np.zeros(SIZE * SIZE, dtype=bool)
            for mask in masks:
                near_any |= np.asarray(mask.filter(ImageFilter.MaxFilter(5))).reshape(-1) > 0
            for mask in masks:
                inner = np.asarray(mask.filter(ImageFilter.MinFilter(3))).reshape(-1) > 0
                whole = np.asarray(mask).reshape(-1) > 0
                # A ring 3-4 px outside the polygon, away from every object: background only.
                band = (np.asarray(mask.filter(ImageFilter.MaxFilter(9))).reshape(-1) > 0) & (
                    ~near_any
                )
                assert inner.sum() >= 10 and band.sum() >= 10
                assert (_saturation(pixels[inner]) >= 0.4).mean() >= 0.95
                assert (_saturation(pixels[whole]) >= 0.4).mean() >= 0.85  # up to the edge
                assert (_saturation(pixels[band]) >= 0.4).mean() <= 0.1  # and not beyond
                checked += 1
    assert checked >= 80


def test_chance_precision_is_low_and_every_category_occurs(stats_scenes):
    out, summary = stats_scenes
    data = _load(out, 'train')
    labels = [{a['category_id'] for a in anns} for anns in _by_image(data).values()]
    shared = sum(bool(a & b) for a, b in combinations(labels, 2))
    chance = shared / (len(labels) * (len(labels) - 1) / 2)
    # With 20 categories and 1-3 objects: ~0.19, far from saturating pseudo-label precision.
    assert 0.1 <= chance <= 0.3
    assert summary['stats']['train']['chance_precision'] == pytest.approx(chance, abs=1e-9)
    assert summary['expected_chance_precision'] == pytest.approx(chance, abs=0.04)
    counts = np.bincount([a['category_id'] for a in data['annotations']], minlength=21)[1:]
    assert np.all(counts > 0)
    assert counts.min() >= 0.4 * counts.mean() and counts.max() <= 1.6 * counts.mean()
    per_scene = [len(s) for s in labels]
    assert 1.8 <= np.mean(per_scene) <= 2.2


def test_defaults_fit_the_demo_queue_and_leave_precision_headroom():
    """3000 + 600 images of 64 px, 1-3 objects: chance precision well below 0.5 by counting."""
    args = gen.parse_args([])
    assert (args.num_train, args.num_val, args.img_size) == (3000, 600, 64)
    assert (args.min_objects, args.max_objects) == (1, 3)
    assert args.num_train >= 2 * 1024  # a queue of 1024 holds each image at most once
    counts = range(args.min_objects, args.max_objects + 1)
    disjoint = [
        comb(NUM_CATEGORIES - k1, k2) / comb(NUM_CATEGORIES, k2) for k1 in counts for k2 in counts
    ]
    chance = 1 - sum(disjoint) / len(disjoint)
    assert chance == pytest.approx(0.191, abs=0.001) and chance <= 0.5


def _nearest_centroid_accuracy(features: np.ndarray, cats: np.ndarray) -> float:
    """Fit class means on every other object, classify the rest by the nearest mean."""
    fit, held = np.arange(len(cats)) % 2 == 0, np.arange(len(cats)) % 2 == 1
    classes = np.unique(cats[fit])
    means = np.stack([features[fit & (cats == c)].mean(axis=0) for c in classes])
    dist = np.linalg.norm(features[held][:, None, :] - means[None], axis=2)
    return float((classes[dist.argmin(axis=1)] == cats[held]).mean())


def _hue_quadrants(colours: np.ndarray) -> np.ndarray:
    return np.array([int(colorsys.rgb_to_hsv(*(c / 255.0))[0] * 4) % 4 for c in colours])


def test_colour_does_not_identify_the_category(stats_scenes):
    """A classifier on an object's mean colour is near chance; each category takes all hues.

    Both fail on a generator that gives each category its own colour family (the previous
    design: nearest-centroid accuracy ~1, one hue quadrant per category).
    """
    out, _ = stats_scenes
    colours, cats = _object_colours(out, _load(out, 'train'))
    assert len(cats) >= 400
    chance = 1.0 / NUM_CATEGORIES
    assert _nearest_centroid_accuracy(colours, cats) <= 3 * chance
    # Every category's objects spread over the hue circle.
    quadrants = _hue_quadrants(colours)
    for c in np.unique(cats):
        assert len(set(quadrants[cats == c].tolist())) >= 3, f'category {c}'
    # And the per-category mean colours are alike: their spread is what sampling noise gives.
    pooled_std = np.sqrt(np.mean([colours[cats == c].var(axis=0) for c in np.unique(cats)]))
    centroids = np.stack([colours[cats == c].mean(axis=0) for c in np.unique(cats)])
    assert np.abs(centroids - colours.mean(axis=0)).max() <= pooled_std


def test_second_run_is_a_no_op_and_force_regenerates(tmp_path, capsys):
    out = tmp_path / 'demo'
    params = {**PARAMS, 'num_train': 5, 'num_val': 1}
    ann = out / 'annotations' / 'instances_train.json'
    first = gen.generate(out, **params)
    assert not first['skipped'] and first['num_images'] == 6
    stat = ann.stat()

    second = gen.generate(out, **params)
    assert second['skipped']
    assert (second['num_train'], second['num_val'], second['num_objects']) == (
        first['num_train'],
        first['num_val'],
        first['num_objects'],
    )
    assert ann.stat().st_mtime_ns == stat.st_mtime_ns and ann.stat().st_ino == stat.st_ino

    forced = gen.generate(out, **params, force=True)
    assert not forced['skipped']
    assert (ann.stat().st_ino, ann.stat().st_mtime_ns) != (stat.st_ino, stat.st_mtime_ns)

    # The CLI says so, and exits 0.
    argv = ['--out-dir', str(out), '--num-train', '5', '--num-val', '1']
    assert gen.main(argv) == 0
    assert 'up to date' in capsys.readouterr().out
    assert gen.main([*argv, '--force']) == 0
    printed = capsys.readouterr().out
    assert 'wrote 6 images' in printed and 'chance precision' in printed


def test_changed_params_or_missing_image_regenerate(tmp_path):
    out = tmp_path / 'demo'
    gen.generate(out, **{**PARAMS, 'num_train': 6, 'num_val': 2})
    # Other parameters: regenerated, and stale images of the old run are gone.
    params = {**PARAMS, 'num_train': 4, 'num_val': 1}
    summary = gen.generate(out, **params)
    assert not summary['skipped']
    on_disk = sorted(p.name for p in (out / 'images').rglob('*.jpg'))
    listed = sorted(im['file_name'] for s in SPLITS for im in _load(out, s)['images'])
    assert on_disk == listed and len(listed) == 5
    # A missing image (e.g. an interrupted copy) makes the output out of date.
    (out / 'images' / 'train' / listed[0]).unlink()
    assert not gen.generate(out, **params)['skipped']
    assert gen.generate(out, **params)['skipped']
    # A json without the stored parameters is never taken as up to date.
    ann = out / 'annotations' / 'instances_val.json'
    data = json.loads(ann.read_text())
    del data['info']['generator_params']
    ann.write_text(json.dumps(data))
    assert not gen.generate(out, **params)['skipped']
    assert not list(out.rglob('*.tmp'))


@pytest.mark.parametrize(
    'bad, option',
    [
        ({'num_train': 0}, '--num-train'),
        ({'num_train': 2.5}, '--num-train'),
        ({'num_val': -1}, '--num-val'),
        ({'img_size': 16}, '--img-size'),
        ({'seed': -1}, '--seed'),
        ({'min_objects': 0}, '--min-objects'),
        ({'min_objects': 3, 'max_objects': 2}, '--max-objects'),
        ({'max_objects': NUM_CATEGORIES + 1}, '--max-objects'),
    ],
)
def test_bad_parameters_are_rejected(tmp_path, bad, option):
    with pytest.raises(ValueError, match=option):
        gen.generate(tmp_path / 'demo', **{**PARAMS, **bad})
    assert not (tmp_path / 'demo').exists()


def test_cli_names_the_bad_option(tmp_path, capsys):
    assert gen.main(['--out-dir', str(tmp_path / 'demo'), '--img-size', '20']) == 2
    assert '--img-size' in capsys.readouterr().err
    assert not (tmp_path / 'demo').exists()


def test_objects_fill_the_views_and_backgrounds_are_smooth(stats_scenes):
    """What self-supervision needs from the scenes (generator version 3).

    Objects cover over a quarter of an image on average (version 2: a fifth), so that a view
    of 60 to 100 % of it almost always holds object pixels; backgrounds are gradients or
    low-frequency noise, whose neighbouring pixels differ by little, unlike the stripes and
    checkerboards of version 2 (which every crop of an image shares, a shortcut for telling
    images apart).
    """
    out, _ = stats_scenes
    data = _load(out, 'train')
    groups = _by_image(data)
    coverage, steps = [], []
    for im in data['images']:
        objects = np.zeros((SIZE, SIZE), dtype=bool)
        for ann in groups[im['id']]:
            objects |= np.asarray(_mask(ann).filter(ImageFilter.MaxFilter(5))) > 0
        coverage.append(np.mean(np.asarray(_mask_union(groups[im['id']])) > 0))
        grey = _pixels(out, 'train', im['file_name']).astype(np.float32).mean(axis=2)
        background = ~objects[:, 1:] & ~objects[:, :-1]
        steps.append(np.percentile(np.abs(np.diff(grey, axis=1))[background], 99))
    assert np.mean(coverage) >= 0.25
    # JPEG and the +-3 pixel noise alone give steps of a few levels; a hard stripe edge of
    # the old backgrounds (contrast 0.1 to 0.3) gives 25 to 75.
    assert np.median(steps) <= 12


def test_objects_are_muted_so_that_colour_does_not_tell_images_apart(stats_scenes):
    out, _ = stats_scenes
    colours, _ = _object_colours(out, _load(out, 'train'))
    assert np.percentile(_saturation(colours), 95) <= 0.2


def _mask_union(anns: list[dict]) -> Image.Image:
    union = Image.new('L', (SIZE, SIZE), 0)
    for ann in anns:
        union.paste(255, mask=_mask(ann))
    return union
