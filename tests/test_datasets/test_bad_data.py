"""Odd and broken images: converted when they can be, named when they cannot."""

import subprocess
import sys

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from PIL import Image

from mls_plugin.datasets import SceneImageDataset, UnreadableImageError


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    init_default_scope('mmpretrain')  # the pipelines' transforms live there


VIEW = [
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.2, 1.0), backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
]
PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=2, transforms=[VIEW]),
    dict(type='PackInputs'),
]


def write_images(root):
    """Images that must load (converted to 3 x 32 x 32) and ones that cannot."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)
    good = {
        'rgb.jpg': Image.fromarray(rgb),
        'gray.jpg': Image.fromarray(rgb[..., 0]),
        'rgba.png': Image.fromarray(np.dstack([rgb, rgb[..., :1]])),
        'cmyk.jpg': Image.fromarray(rgb).convert('CMYK'),
        'one_pixel.png': Image.fromarray(rgb[:1, :1]),
        'thin.png': Image.fromarray(rng.integers(0, 255, (3, 2000, 3), dtype=np.uint8)),
    }
    for name, img in good.items():
        img.save(root / name)
    cv2.imwrite(str(root / 'sixteen_bit.png'), rgb.astype(np.uint16) * 257)  # 16-bit RGB
    good['sixteen_bit.png'] = None
    (root / 'zero_bytes.jpg').write_bytes(b'')
    (root / 'corrupt.jpg').write_bytes((root / 'rgb.jpg').read_bytes()[:200] + b'\0' * 50)
    (root / 'text.jpg').write_text('not an image')
    (root / 'notes.txt').write_text('not listed: wrong extension')
    return sorted(good), ['corrupt.jpg', 'text.jpg', 'zero_bytes.jpg']


def test_odd_images_are_converted_and_broken_ones_named(tmp_path):
    good, bad = write_images(tmp_path)
    ds = SceneImageDataset(data_prefix=str(tmp_path), pipeline=PIPELINE)
    names = [ds.get_data_info(i)['img_path'].rsplit('/', 1)[1] for i in range(len(ds))]
    assert sorted(names) == sorted(good + bad)  # notes.txt is not an image file
    for i, name in enumerate(names):
        if name in good:
            views = ds[i]['inputs']
            assert [tuple(v.shape) for v in views] == [(3, 32, 32)] * 2, name
        else:
            with pytest.raises(UnreadableImageError, match=name):
                ds[i]


def test_missing_file_is_named(tmp_path):
    (tmp_path / 'a.jpg').write_bytes(b'')
    ann = tmp_path / 'ann.json'
    ann.write_text('{"images": [{"id": 1, "file_name": "nowhere.jpg"}]}')
    ds = SceneImageDataset(ann_file=str(ann), data_prefix=str(tmp_path), pipeline=PIPELINE)
    with pytest.raises(UnreadableImageError, match=r'nowhere.jpg: FileNotFoundError'):
        ds[0]


def test_skip_mode_replaces_and_records(tmp_path):
    good, bad = write_images(tmp_path)
    ds = SceneImageDataset(data_prefix=str(tmp_path), pipeline=PIPELINE, skip_unreadable=True)
    names = [ds.get_data_info(i)['img_path'].rsplit('/', 1)[1] for i in range(len(ds))]
    for name in bad:
        item = ds[names.index(name)]
        assert [tuple(v.shape) for v in item['inputs']] == [(3, 32, 32)] * 2
        skipped = item['data_samples'].metainfo['skipped_images']
        assert skipped[0].split(': ')[0].endswith(name)
    assert 'skipped_images' not in ds[names.index('rgb.jpg')]['data_samples'].metainfo


@pytest.mark.slow
def test_training_skips_and_reports_unreadable_images(repo_root, tmp_path):
    data = tmp_path / 'data'
    data.mkdir()
    rng = np.random.default_rng(1)
    for i in range(14):
        Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(data / f'{i}.jpg')
    (data / 'broken_a.jpg').write_bytes(b'')
    (data / 'broken_b.jpg').write_text('no image')
    opts = {
        'train_dataloader.dataset.data_root': '',
        'train_dataloader.dataset.ann_file': '',
        'train_dataloader.dataset.data_prefix': data,
        'train_dataloader.dataset.skip_unreadable': True,
        'train_dataloader.batch_size': 4,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.pipeline.1.transforms.0.0.scale': 32,
        'model.memory.length': 8,
        'model.head.topk': 2,
        'train_cfg.max_epochs': 1,
    }
    work = tmp_path / 'work'
    cmd = [
        sys.executable,
        'tools/train.py',
        'tests/configs/mls_resnet18_cpu-e2e.py',
    ]
    cmd += ['--work-dir', str(work), '--cfg-options', *(f'{k}={v}' for k, v in opts.items())]
    res = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=300)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-3000:]
    assert 'unreadable images were skipped in epoch 1' in log
    listed = (work / 'skipped_images_epoch_1.txt').read_text()
    assert 'broken_a.jpg' in listed and 'broken_b.jpg' in listed


def test_a_file_found_broken_is_not_drawn_again_as_a_replacement(tmp_path, monkeypatch):
    good, bad = write_images(tmp_path)
    ds = SceneImageDataset(data_prefix=str(tmp_path), pipeline=PIPELINE, skip_unreadable=True)
    names = [ds.get_data_info(i)['img_path'].rsplit('/', 1)[1] for i in range(len(ds))]
    corrupt, rgb = names.index('corrupt.jpg'), names.index('rgb.jpg')
    draws = iter([corrupt, corrupt, rgb])  # the random replacement picks the broken file first
    monkeypatch.setattr(ds, '_rand_another', lambda: next(draws))
    item = ds[corrupt]
    skipped = item['data_samples'].metainfo['skipped_images']
    assert len(skipped) == 1 and skipped[0].split(': ')[0].endswith('corrupt.jpg')


def test_folder_listing_says_what_it_left_out(tmp_path):
    from unittest import mock

    from mmengine.logging import MMLogger

    good, bad = write_images(tmp_path)
    (tmp_path / 'gone.jpg').symlink_to(tmp_path / 'deleted.jpg')  # dangling
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / 'labels.json').write_text('{}')
    with mock.patch.object(MMLogger.get_current_instance(), 'warning') as warning:
        ds = SceneImageDataset(data_prefix=str(tmp_path), pipeline=PIPELINE)
    assert len(ds) == len(good) + len(bad)  # neither the link nor the other files
    (message,), _ = warning.call_args
    assert '1 broken symbolic link(s) (gone.jpg)' in message
    assert '2 file(s) with other extensions (.json: 1, .txt: 1)' in message
    assert str(tmp_path) in message
