import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get('MLS_SHARED_DATA', REPO_ROOT.parent / 'shared' / 'data'))


@pytest.fixture(scope='session')
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope='session')
def coco_tiny() -> Path:
    root = SHARED_DATA / 'coco_tiny'
    if not (root / 'annotations' / 'instances_train2017.json').is_file():
        pytest.fail(f'coco_tiny not found at {root}; set MLS_SHARED_DATA to the shared data folder')
    return root


@pytest.fixture(scope='session')
def mls_r50_checkpoint(tmp_path_factory) -> Path:
    """A runner-style checkpoint of an MLS ResNet-50 (random, but not any default init).

    Every backbone tensor is drawn at random, so a model whose backbone equals it
    after init really loaded it.
    """
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS

    import mls_plugin  # noqa: F401

    cfg = Config.fromfile(str(REPO_ROOT / 'configs/mls/mls_resnet50_8xb32-coslr-800e_coco.py'))
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    gen = torch.Generator().manual_seed(0)
    state = model.state_dict()
    for key, value in state.items():
        if value.is_floating_point():
            value.copy_(torch.rand(value.shape, generator=gen) * 0.1 + 0.01)
    path = tmp_path_factory.mktemp('mls_r50') / 'mls_r50.pth'
    torch.save({'meta': {'epoch': 1}, 'state_dict': state}, path)
    return path
