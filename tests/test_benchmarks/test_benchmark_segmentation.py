"""Segmentation benchmarks: CamVid data, the pretrained backbone really loaded.

The end-to-end CamVid run (train + tools/test.py mIoU) is in test_transfer_chain.py.
"""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import DATASETS, MODELS, init_default_scope
from PIL import Image

import mls_plugin.benchmarks.camvid  # noqa: F401  (registers CamVidDataset into mmseg)
from mls_plugin.models import set_pretrained

SEG = Path(__file__).parents[2] / 'configs/benchmarks/mmseg'
PSPNET = 'pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py'


def camvid(root: Path, split: str, **kwargs):
    init_default_scope('mmseg')
    return DATASETS.build(
        dict(
            type='CamVidDataset',
            data_root=str(root),
            data_prefix=dict(img_path=split, seg_map_path=f'{split}annot'),
            pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')],
            **kwargs,
        )
    )


@pytest.mark.parametrize('split,count', [('train', 123), ('val', 101)])
def test_camvid_dataset_reads_the_segnet_layout(split, count, camvid_small):
    ds = camvid(camvid_small, split)
    listed = camvid(camvid_small, split, ann_file=f'{split}.txt')  # a split file of stems
    assert len(ds) == len(listed) == count
    assert [d['img_path'] for d in ds.data_list] == sorted(d['img_path'] for d in listed.data_list)
    assert ds.metainfo['classes'][0] == 'Sky' and len(ds.metainfo['classes']) == 11
    assert len(ds.metainfo['palette']) == 11
    for index in (0, count - 1):
        item = ds[index]
        raw = np.array(Image.open(item['seg_map_path']))
        assert item['img'].shape[:2] == raw.shape == (360, 480)
        assert set(np.unique(raw)) <= set(range(12))  # 0..10 classes, 11 void
        seg = item['gt_seg_map']
        assert set(np.unique(seg)) <= set(range(11)) | {255}
        assert (seg[raw == 11] == 255).all() and (seg[raw < 11] == raw[raw < 11]).all()


def test_camvid_class_subset_keeps_void_ignored(camvid_small):
    ds = camvid(camvid_small, 'val', metainfo=dict(classes=('Road', 'Car')))
    assert ds.label_map[3] == 0 and ds.label_map[8] == 1
    assert ds.label_map[11] == 255 and ds.label_map[0] == 255
    assert set(np.unique(ds[0]['gt_seg_map'])) <= {0, 1, 255}


def _build(name: str, checkpoint: Path, backbone_type: str = ''):
    cfg = Config.fromfile(str(SEG / name))
    if backbone_type:
        cfg.model.backbone.type = backbone_type
    set_pretrained(cfg.model, str(checkpoint))
    init_default_scope(cfg.default_scope)
    return revert_sync_batchnorm(MODELS.build(cfg.model))


@pytest.mark.parametrize(
    'name',
    [
        PSPNET,
        'psanet_r50-d8_4xb2-40k_cityscapes-512x1024.py',
        'fcn_r50-d8_4xb4-20k_voc12aug-512x512.py',
    ],
)
def test_backbone_equals_the_pretrained_weights_at_iteration_0(name, mls_r50_checkpoint):
    model = _build(name, mls_r50_checkpoint)
    assert type(model.backbone).__name__ == 'ResNet'
    assert model.backbone.strides == (1, 2, 1, 1) and model.backbone.dilations == (1, 1, 2, 4)
    model.init_weights()
    state = torch.load(mls_r50_checkpoint, weights_only=True)['state_dict']
    expected = {k[len('backbone.') :]: v for k, v in state.items() if k.startswith('backbone.')}
    own = model.backbone.state_dict()
    assert own.keys() == expected.keys() and len(own) == 318  # none missing, none left over
    assert all(torch.equal(own[k], expected[k]) for k in own)


def test_deep_stem_backbone_is_refused(mls_r50_checkpoint):
    """mmseg's default ResNetV1c would leave its deep stem random: that must be an error."""
    model = _build(PSPNET, mls_r50_checkpoint, backbone_type='ResNetV1c')
    with pytest.raises(KeyError, match=r'CheckedPretrained.*does not fit ResNetV1c') as err:
        model.init_weights()
    # ResNetV1c's 3-conv stem (stem.*) is not in the checkpoint; its conv1 / bn1 are unused.
    missing, unexpected = re.search(r'(\d+) missing, (\d+) unexpected', str(err.value)).groups()
    assert int(missing) > 0 and int(unexpected) > 0
    assert "'stem.0.weight'" in str(err.value) and "'conv1.weight'" in str(err.value)
