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
