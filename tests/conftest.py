import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get('MLS_SHARED_DATA', REPO_ROOT.parent / 'shared' / 'data'))


def _gpu_selected(config) -> bool:
    """Whether the run names the GPU checks: a marker expression with ``gpu``, not ``not gpu``."""
    expr = config.getoption('markexpr', '') or ''
    return 'gpu' in expr and 'not gpu' not in expr


def pytest_configure(config) -> None:
    # The suite is the CPU suite, also on a machine with GPUs: hidden before any test module
    # imports torch, and inherited by the subprocesses the tests start. `-m gpu` keeps them.
    if not _gpu_selected(config):
        os.environ['CUDA_VISIBLE_DEVICES'] = ''


def pytest_collection_modifyitems(config, items) -> None:
    if _gpu_selected(config):
        return
    skip = pytest.mark.skip(reason='a GPU check: run it with -m gpu on a machine with a GPU')
    for item in items:
        if item.get_closest_marker('gpu'):
            item.add_marker(skip)


@pytest.fixture(scope='session')
def _default_scopes_after_collection() -> dict:
    from mmengine.registry import DefaultScope

    return dict(DefaultScope._instance_dict)


@pytest.fixture(autouse=True)
def _keep_the_default_scope(_default_scopes_after_collection):
    """A test that switches mmengine's default scope (e.g. to mmdet to build a detector) must
    not leave it switched: later tests would look MLS's components up in mmdet's registry.
    After each test the scopes are those the test modules set when imported."""
    from mmengine.registry import DefaultScope

    yield
    # The current scope is the latest instance of mmengine's DefaultScope (ManagerMixin).
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(_default_scopes_after_collection)


@pytest.fixture
def free_port() -> int:
    """A free TCP port on 127.0.0.1, for a gloo process group's rendezvous."""
    import socket

    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='session')
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope='session')
def camvid_small() -> Path:
    root = SHARED_DATA / 'camvid_small'
    if not (root / 'train.txt').is_file():
        pytest.fail(f'camvid_small not found at {root}; set MLS_SHARED_DATA')
    return root


@pytest.fixture(scope='session')
def coco_tiny() -> Path:
    root = SHARED_DATA / 'coco_tiny'
    if not (root / 'annotations' / 'instances_train2017.json').is_file():
        pytest.fail(f'coco_tiny not found at {root}; set MLS_SHARED_DATA to the shared data folder')
    return root


@pytest.fixture(scope='session')
def coco_tiny_options(coco_tiny):
    """The options (``--cfg-options`` keys) that turn tests/configs/mls_resnet18_cpu-e2e.py into
    a run of a few CPU steps on coco_tiny's train split: the images read in the main process,
    views of ``size`` px (None keeps the config's view transforms), and a small queue and top-k.
    A test adds or overrides keys in the dict it gets."""

    def options(size: int | None = 32, batch: int = 8, queue: int = 48, topk: int = 5) -> dict:
        opts = {
            'train_dataloader.dataset.data_root': str(coco_tiny),
            'train_dataloader.dataset.ann_file': 'annotations/instances_train2017.json',
            'train_dataloader.dataset.data_prefix': 'images/train2017/',
            'train_dataloader.batch_size': batch,
            'train_dataloader.num_workers': 0,
            'train_dataloader.persistent_workers': False,
            'model.memory.length': queue,
            'model.head.topk': topk,
        }
        if size is not None:
            opts['train_dataloader.dataset.pipeline.1.transforms.0.0.scale'] = size
        return opts

    return options


@pytest.fixture(scope='session')
def mls_r50_checkpoint(tmp_path_factory) -> Path:
    """A runner-style checkpoint of an MLS ResNet-50, distinct from any default init.

    The weights are a default initialisation plus noise; the BN running statistics are
    those of one batch through the network (as a trained model's would fit its weights),
    so eval-mode features stay well scaled. A model whose backbone equals this checkpoint
    after init really loaded it.
    """
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS

    import mls_plugin  # noqa: F401

    cfg = Config.fromfile(str(REPO_ROOT / 'configs/mls/mls_resnet50_8xb32-coslr-800e_coco.py'))
    init_default_scope('mmpretrain')
    # The same checkpoint whatever ran before: the default init draws from the global generator.
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for value in model.parameters():
            noise = torch.randn(value.shape, generator=gen)
            value.add_(0.1 * noise if value.dim() == 1 else 0.01 * value.std() * noise)
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.reset_running_stats()
                module.momentum = None  # running stats = this batch's statistics
        model.backbone.train()
        model.backbone(torch.randn(8, 3, 64, 64, generator=gen))
    state = model.state_dict()
    for key, value in state.items():  # the momentum encoder is a copy: make it distinct too
        if key.startswith('target_net.module.') and value.is_floating_point():
            value.add_(0.001 * torch.randn(value.shape, generator=gen))
    path = tmp_path_factory.mktemp('mls_r50') / 'mls_r50.pth'
    torch.save({'meta': {'epoch': 1}, 'state_dict': state}, path)
    return path


@pytest.fixture(scope='session')
def coco_scenes() -> Path:
    root = SHARED_DATA / 'coco_scenes'
    if not (root / 'annotations' / 'instances_train.json').is_file():
        pytest.fail(f'coco_scenes not found at {root}; set MLS_SHARED_DATA')
    return root
