"""Tests of tools/generate_demo_scenes.py: determinism, COCO geometry, pixels, idempotence."""

from __future__ import annotations

import colorsys
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

TOOL = Path(__file__).resolve().parents[1] / 'tools' / 'generate_demo_scenes.py'
SPLITS = ('train', 'val')
PARAMS = dict(num_images=24, img_size=96, seed=0, min_objects=2, max_objects=5, val_fraction=0.2)


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


def _mask(ann: dict, size: int) -> Image.Image:
    mask = Image.new('L', (size, size), 0)
    ImageDraw.Draw(mask).polygon([tuple(p) for p in _polygon(ann).tolist()], fill=255)
    return mask


def _by_image(data: dict) -> dict[int, list[dict]]:
    groups: dict[int, list[dict]] = {im['id']: [] for im in data['images']}
    for ann in data['annotations']:
        groups[ann['image_id']].append(ann)
    return groups


def _near(values: np.ndarray, colour: np.ndarray, tol: int = 30) -> float:
    """Fraction of the (n, 3) colours within ``tol`` of ``colour`` in every channel."""
    return float((np.abs(values - colour).max(axis=1) <= tol).mean())


def _all_pixels(out: Path) -> list[np.ndarray]:
    return [
        _pixels(out, split, im['file_name'])
        for split in SPLITS
        for im in _load(out, split)['images']
    ]


def test_same_seed_same_bytes_other_seed_differs(scenes, tmp_path):
    again = tmp_path / 'again'
    gen.generate(again, **PARAMS)
    for split in SPLITS:
        rel = Path('annotations') / f'instances_{split}.json'
        assert (again / rel).read_bytes() == (scenes / rel).read_bytes()
    ref = _all_pixels(scenes)
    assert all(np.array_equal(a, b) for a, b in zip(_all_pixels(again), ref, strict=True))

    other = tmp_path / 'other'
    gen.generate(other, **{**PARAMS, 'seed': 1})
    rel = Path('annotations') / 'instances_train.json'
    assert (other / rel).read_bytes() != (scenes / rel).read_bytes()
    assert not any(np.array_equal(a, b) for a, b in zip(_all_pixels(other), ref, strict=True))


def test_layout_split_and_coco_fields(scenes):
    train, val = _load(scenes, 'train'), _load(scenes, 'val')
    assert (len(train['images']), len(val['images'])) == (19, 5)
    image_ids = [im['id'] for d in (train, val) for im in d['images']]
    ann_ids = [a['id'] for d in (train, val) for a in d['annotations']]
    assert len(set(image_ids)) == 24 and len(set(ann_ids)) == len(ann_ids)
    for split, data in zip(SPLITS, (train, val)):
        assert set(data) >= {'info', 'images', 'annotations', 'categories'}
        assert data['info']['generator_params']['seed'] == 0
        names = [c['name'] for c in data['categories']]
        assert len(names) == len(set(names)) == 10
        assert [c['id'] for c in data['categories']] == list(range(1, 11))
        listed = sorted(im['file_name'] for im in data['images'])
        assert listed == sorted(p.name for p in (scenes / 'images' / split).glob('*.jpg'))
        for im in data['images']:
            with Image.open(scenes / 'images' / split / im['file_name']) as img:
                assert img.format == 'JPEG' and img.mode == 'RGB'
                assert img.size == (im['width'], im['height']) == (96, 96)


def test_boxes_polygons_and_areas(scenes):
    for split in SPLITS:
        data = _load(scenes, split)
        sizes = {im['id']: (im['width'], im['height']) for im in data['images']}
        for ann in data['annotations']:
            assert ann['iscrowd'] == 0 and 1 <= ann['category_id'] <= 10
            poly = _polygon(ann)
            assert len(poly) >= 3
            x, y, w, h = ann['bbox']
            width, height = sizes[ann['image_id']]
            assert w > 0 and h > 0
            assert 0 <= x and 0 <= y and x + w <= width - 1 and y + h <= height - 1
            assert np.all(poly[:, 0] >= x) and np.all(poly[:, 0] <= x + w)
            assert np.all(poly[:, 1] >= y) and np.all(poly[:, 1] <= y + h)
            # The box is tight: vertices touch all four sides.
            assert poly[:, 0].min() == x and poly[:, 0].max() == x + w
            assert poly[:, 1].min() == y and poly[:, 1].max() == y + h
            assert ann['area'] > 0
            assert ann['area'] == pytest.approx(_shoelace(poly), abs=1e-9)


def test_objects_per_image_have_distinct_categories_and_disjoint_boxes(scenes):
    counts = []
    for split in SPLITS:
        for anns in _by_image(_load(scenes, split)).values():
            cats = [a['category_id'] for a in anns]
            assert len(cats) == len(set(cats))
            assert 2 <= len(anns) <= 5
            counts.append(len(anns))
            for i, a in enumerate(anns):
                ax, ay, aw, ah = a['bbox']
                for b in anns[i + 1 :]:
                    bx, by, bw, bh = b['bbox']
                    assert ax + aw < bx or bx + bw < ax or ay + ah < by or by + bh < ay
    assert len(set(counts)) >= 3  # the number of objects varies


def test_pixels_inside_polygons_have_the_category_colour(scenes):
    """Fails if drawn shapes and json polygons were misaligned by more than a pixel or two."""
    checked = 0
    for split in SPLITS:
        data = _load(scenes, split)
        groups = _by_image(data)
        for im in data['images']:
            pixels = _pixels(scenes, split, im['file_name']).astype(np.int64)
            size = im['width']
            masks = [_mask(a, size) for a in groups[im['id']]]
            for ann, mask in zip(groups[im['id']], masks, strict=True):
                inner = np.asarray(mask.filter(ImageFilter.MinFilter(5))) > 0
                if inner.sum() < 5:
                    inner = np.asarray(mask.filter(ImageFilter.MinFilter(3))) > 0
                assert inner.sum() >= 5
                edge_in = np.asarray(mask.filter(ImageFilter.MinFilter(3))) > 0
                # A ring 3-4 px outside the polygon: background only.
                band = (np.asarray(mask.filter(ImageFilter.MaxFilter(9))) > 0) & ~(
                    np.asarray(mask.filter(ImageFilter.MaxFilter(5))) > 0
                )
                colour = np.median(pixels[inner], axis=0)
                assert _near(pixels[inner], colour) >= 0.97  # a flat fill
                assert _near(pixels[edge_in], colour) >= 0.85  # right up to the polygon's edge
                assert _near(pixels[band], colour) <= 0.05  # and not beyond it
                assert np.abs(pixels[band].mean(axis=0) - colour).max() > 40
                hue = colorsys.rgb_to_hsv(*(colour / 255.0))[0]
                expected = gen.category_hue(ann['category_id'])
                assert abs((hue - expected + 0.5) % 1.0 - 0.5) <= gen.HUE_JITTER + 0.03
                checked += 1
    assert checked >= 48


def test_pycocotools_reads_the_json(scenes):
    coco_mod = pytest.importorskip('pycocotools.coco')
    for split in SPLITS:
        coco = coco_mod.COCO(str(scenes / 'annotations' / f'instances_{split}.json'))
        assert len(coco.getImgIds()) == len(_load(scenes, split)['images'])
        assert len(coco.getCatIds()) == 10
        for ann in coco.loadAnns(coco.getAnnIds()):
            mask = coco.annToMask(ann)
            assert mask.shape == (96, 96)
            poly = _polygon(ann)
            perimeter = np.linalg.norm(poly - np.roll(poly, 1, axis=0), axis=1).sum()
            assert mask.sum() > 0
            assert abs(int(mask.sum()) - ann['area']) <= 0.2 * perimeter + 1
            ys, xs = np.nonzero(mask)
            x, y, w, h = ann['bbox']
            assert x <= xs.min() and xs.max() <= x + w and y <= ys.min() and ys.max() <= y + h


def test_second_run_is_a_no_op_and_force_regenerates(tmp_path, capsys):
    out = tmp_path / 'demo'
    params = {**PARAMS, 'num_images': 6}
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
    argv = ['--out-dir', str(out), '--num-images', '6', '--img-size', '96']
    assert gen.main(argv) == 0
    assert 'up to date' in capsys.readouterr().out


def test_changed_params_or_missing_image_regenerate(tmp_path):
    out = tmp_path / 'demo'
    gen.generate(out, **{**PARAMS, 'num_images': 8})
    # Other parameters: regenerated, and stale images of the old run are gone.
    summary = gen.generate(out, **{**PARAMS, 'num_images': 5})
    assert not summary['skipped']
    on_disk = sorted(p.name for p in (out / 'images').rglob('*.jpg'))
    listed = sorted(im['file_name'] for s in SPLITS for im in _load(out, s)['images'])
    assert on_disk == listed and len(listed) == 5
    # A missing image (e.g. an interrupted copy) makes the output out of date.
    (out / 'images' / 'train' / listed[0]).unlink()
    assert not gen.generate(out, **{**PARAMS, 'num_images': 5})['skipped']
    # A json without the stored parameters is never taken as up to date.
    ann = out / 'annotations' / 'instances_val.json'
    data = json.loads(ann.read_text())
    del data['info']['generator_params']
    ann.write_text(json.dumps(data))
    assert not gen.generate(out, **{**PARAMS, 'num_images': 5})['skipped']
    assert not list(out.rglob('*.tmp'))


@pytest.mark.parametrize(
    'bad',
    [
        {'num_images': 0},
        {'img_size': 16},
        {'min_objects': 3, 'max_objects': 2},
        {'max_objects': 11},
        {'val_fraction': 1.0},
    ],
)
def test_bad_parameters_are_rejected(tmp_path, bad):
    with pytest.raises(ValueError):
        gen.generate(tmp_path / 'demo', **{**PARAMS, **bad})
    assert not (tmp_path / 'demo').exists()
