import json

import pytest
from mmengine.registry import init_default_scope
from PIL import Image

from mls_plugin.datasets import SceneImageDataset


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    init_default_scope('mmpretrain')  # the pipelines' transforms live there


def test_coco_json_lists_its_images(coco_tiny):
    ds = SceneImageDataset(
        data_root=str(coco_tiny),
        ann_file='annotations/instances_train2017.json',
        data_prefix='images/train2017/',
    )
    coco = json.loads((coco_tiny / 'annotations/instances_train2017.json').read_text())
    assert len(ds) == len(coco['images']) == 80
    info = ds.get_data_info(0)
    assert info['img_path'] == str(coco_tiny / 'images/train2017' / coco['images'][0]['file_name'])
    assert set(info) >= {'img_path'} and 'gt_label' not in info


def test_folder_is_scanned_recursively_and_sorted(tmp_path):
    for rel in ['b/2.jpg', 'a/1.png', '0.jpeg', 'notes.txt']:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith('.txt'):
            path.write_text('not an image')
        else:
            Image.new('RGB', (4, 4)).save(path)
    ds = SceneImageDataset(data_prefix=str(tmp_path))
    names = [ds.get_data_info(i)['img_path'] for i in range(len(ds))]
    assert [n.replace(str(tmp_path) + '/', '') for n in names] == ['0.jpeg', 'a/1.png', 'b/2.jpg']


def test_pipeline_gives_two_views(coco_tiny):
    view = [dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.2, 1.0))]
    ds = SceneImageDataset(
        data_root=str(coco_tiny),
        ann_file='annotations/instances_val2017.json',
        data_prefix='images/val2017/',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='MultiView', num_views=2, transforms=[view]),
            dict(type='PackInputs'),
        ],
    )
    item = ds[3]
    assert [tuple(v.shape) for v in item['inputs']] == [(3, 32, 32), (3, 32, 32)]


def test_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.json'):
        SceneImageDataset(data_root=str(tmp_path), ann_file='missing.json')
    with pytest.raises(FileNotFoundError, match='nowhere'):
        SceneImageDataset(data_prefix=str(tmp_path / 'nowhere'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='no images found in .*empty'):
        SceneImageDataset(data_prefix=str(tmp_path / 'empty'))
    (tmp_path / 'bad.json').write_text('{"images": [')
    with pytest.raises(ValueError, match='bad.json is not valid JSON'):
        SceneImageDataset(ann_file=str(tmp_path / 'bad.json'))
    (tmp_path / 'nolist.json').write_text('{"annotations": []}')
    with pytest.raises(ValueError, match='nolist.json has no COCO `images`'):
        SceneImageDataset(ann_file=str(tmp_path / 'nolist.json'))
