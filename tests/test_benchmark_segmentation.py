"""Segmentation benchmark configs: CamVid data, pretrained backbone really loaded."""

from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import DATASETS, MODELS, init_default_scope
from PIL import Image

import mls_plugin  # noqa: F401
from mls_plugin.models import set_pretrained

SEG = Path(__file__).parents[1] / 'configs/benchmarks/mmseg'


@pytest.mark.parametrize('split,count', [('train', 123), ('val', 101)])
def test_camvid_dataset_reads_the_segnet_layout(split, count, camvid_small):
    init_default_scope('mmseg')
    ds = DATASETS.build(
        dict(
            type='CamVidDataset',
            data_root=str(camvid_small),
            ann_file=f'{split}.txt',
            data_prefix=dict(img_path=split, seg_map_path=f'{split}annot'),
            pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')],
        )
    )
    assert len(ds) == count and len(ds.metainfo['classes']) == 11
    item = ds[0]
    raw = np.array(Image.open(item['seg_map_path']))
    assert item['img'].shape[:2] == raw.shape == (360, 480)
    seg = item['gt_seg_map']
    assert set(np.unique(seg)) <= set(range(11)) | {255}
    assert (seg[raw == 11] == 255).all() and (seg[raw < 11] == raw[raw < 11]).all()


@pytest.mark.parametrize(
    'name',
    [
        'pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py',
        'psanet_r50-d8_4xb2-40k_cityscapes-512x1024.py',
        'fcn_r50-d8_4xb4-20k_voc12aug-512x512.py',
    ],
)
def test_backbone_equals_the_pretrained_weights_at_iteration_0(name, mls_r50_checkpoint):
    cfg = Config.fromfile(str(SEG / name))
    set_pretrained(cfg.model, str(mls_r50_checkpoint))
    init_default_scope(cfg.default_scope)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    state = torch.load(mls_r50_checkpoint, weights_only=True)['state_dict']
    expected = {k[len('backbone.') :]: v for k, v in state.items() if k.startswith('backbone.')}
    own = model.backbone.state_dict()
    assert own.keys() == expected.keys() and len(own) == 318
    assert all(torch.equal(own[k], expected[k]) for k in own)


def test_deep_stem_backbone_is_refused(mls_r50_checkpoint):
    """mmseg's default ResNetV1c would leave its deep stem random: that must be an error."""
    cfg = Config.fromfile(str(SEG / 'pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py'))
    cfg.model.backbone.type = 'ResNetV1c'
    set_pretrained(cfg.model, str(mls_r50_checkpoint))
    init_default_scope(cfg.default_scope)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    with pytest.raises(KeyError, match=r'\d+ missing, \d+ unexpected, \d+ with another shape'):
        model.init_weights()
