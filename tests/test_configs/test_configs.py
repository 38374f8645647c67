"""Every config in configs/ loads and builds its model."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import MODELS, init_default_scope

import mls_plugin  # noqa: F401

DEMO = 'configs/mls/small_scale/mls_resnet18_1xb32-coslr-20e_demo-scenes-48px.py'

CONFIGS = sorted(str(p) for p in (Path(__file__).parents[2] / 'configs').rglob('*.py'))


def test_configs_exist():
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: Path(p).name)
def test_config_loads_and_builds(path):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    # The registry of the config's default scope; SyncBN reverted as in a CPU run.
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    assert not any(isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules())
    assert type(model).__name__ == cfg.model.type
    if cfg.model.type in ('MLS', 'DenseCLMLS'):
        assert cfg.train_dataloader.drop_last, 'QueueMemory needs full batches'
        global_batch = (
            cfg.train_dataloader.batch_size * 8
            if '8xb' in path
            else cfg.train_dataloader.batch_size
        )
        assert cfg.model.memory.length % global_batch == 0
        g_dim = cfg.model.memory.banks.g
        with torch.no_grad():
            feat = model.backbone(torch.zeros(2, 3, 64, 64))[-1]
        assert feat.shape[1] == g_dim == cfg.model.neck.in_channels
        assert cfg.model.memory.banks.z == cfg.model.neck.out_channels


def test_paper_setting():
    cfg = Config.fromfile(
        str(Path(__file__).parents[2] / 'configs/mls/mls_resnet50_8xb32-coslr-800e_coco.py')
    )
    head, optim = cfg.model.head, cfg.optim_wrapper.optimizer
    assert (head.topk, head.temperature, head.loss_ml.loss_weight) == (20, 0.2, 0.5)
    assert cfg.model.momentum == 0.005 and cfg.model.memory.length == 4096
    assert (optim.type, optim.lr, optim.momentum, optim.weight_decay) == ('SGD', 0.3, 0.9, 1e-4)
    assert cfg.train_cfg.max_epochs == 800 and cfg.auto_scale_lr.base_batch_size == 256
    assert cfg.param_scheduler[0].type == 'CosineAnnealingLR' and len(cfg.param_scheduler) == 1
    assert cfg.train_dataloader.dataset.type == 'SceneImageDataset'
    crop = cfg.train_dataloader.dataset.pipeline[1].transforms[0][0]
    assert (crop.scale, crop.crop_ratio_range) == (224, (0.2, 1.0))


BENCHMARKS = [p for p in CONFIGS if '/benchmarks/' in p]


@pytest.mark.parametrize('path', BENCHMARKS, ids=lambda p: Path(p).name)
def test_benchmark_takes_the_pretrained_checkpoint_one_way(path):
    """Every benchmark loads its backbone through CheckedPretrained and downloads nothing."""
    cfg = Config.fromfile(path)
    assert cfg.pretrained.endswith('.pth')
    found = []

    def visit(node):
        if isinstance(node, dict):
            if node.get('type') in ('CheckedPretrained', 'Pretrained'):
                found.append(node)
            for v in node.values():
                visit(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                visit(v)

    visit(cfg.model)
    assert found and all(n['type'] == 'CheckedPretrained' for n in found)
    assert all(n['checkpoint'] == cfg.pretrained for n in found)
    assert cfg.model.backbone.init_cfg.type == 'CheckedPretrained'
    assert cfg.model.get('pretrained') is None
    text = cfg.pretty_text
    assert 'open-mmlab://' not in text and 'torchvision://' not in text


def demo_train_images(repo_root):
    """The demo scenes are generated (`make demo`): N is the generator's default."""
    spec = importlib.util.spec_from_file_location(
        'generate_demo_scenes', repo_root / 'tools/generate_demo_scenes.py'
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DEFAULTS['num_train']


SMALL = [
    ('mls_resnet18_1xb32-coslr-40e_coco-scenes-64px.py', 1601),
    ('mls_resnet18_1xb32-coslr-40e_voc-animals-64px.py', 1879),
    ('mls_resnet18-centred-proj_1xb32-coslr-40e_coco-scenes-64px.py', 1601),
    ('mls_resnet18_1xb32-coslr-20e_demo-scenes-48px.py', None),
]


@pytest.mark.parametrize('name,num_images', SMALL, ids=[n for n, _ in SMALL])
def test_small_configs_follow_the_queue_rule(repo_root, name, num_images):
    """docs/choosing_d_and_k.md: D <= N / 3, k / D near the paper's 0.5 %, BCE warm-up on."""
    cfg = Config.fromfile(str(repo_root / 'configs/mls/small_scale' / name))
    if num_images is None:
        num_images = demo_train_images(repo_root)
    else:  # the shared real sets: the count the config's comment relies on
        root = repo_root / cfg.train_dataloader.dataset.data_root
        ann = json.loads((root / cfg.train_dataloader.dataset.ann_file).read_text())
        assert len(ann['images']) == num_images
    length, topk = cfg.model.memory.length, cfg.model.head.topk
    assert length <= num_images / 3 and length % cfg.train_dataloader.batch_size == 0
    assert 0.003 <= topk / length <= 0.01
    warmups = [h for h in cfg.custom_hooks if h['type'] == 'BCEWarmupHook']
    assert len(warmups) == 1 and warmups[0]['end'] < cfg.train_cfg.max_epochs
    # The BCE may start at once only where the projection is centred (a last BN without affine):
    # otherwise its push shared by all queries stalls InfoNCE (docs/comparison.md, sections 1, 7).
    neck = cfg.model.neck
    centred = neck.get('with_last_bn') and not neck.get('with_last_bn_affine', True)
    assert centred or warmups[0]['end'] > 0
    knn = [h for h in cfg.custom_hooks if h['type'] == 'KNNMultiLabelHook'][0]
    assert knn['bank_dataloader']['dataset']['data_root'] == cfg.train_dataloader.dataset.data_root
    assert knn['query_dataloader']['dataset']['ann_file'].endswith('instances_val.json')


def test_paper_configs_keep_the_paper_values(repo_root):
    for epochs in (400, 800):
        cfg = Config.fromfile(
            str(repo_root / f'configs/mls/mls_resnet50_8xb32-coslr-{epochs}e_coco.py')
        )
        assert (cfg.model.memory.length, cfg.model.head.topk) == (4096, 20)
        assert cfg.model.head.loss_ml.loss_weight == 0.5 and cfg.model.momentum == 0.005
        assert not any(h['type'] == 'BCEWarmupHook' for h in cfg.custom_hooks)


def metafiles(repo_root):
    import yaml

    index = yaml.safe_load((repo_root / 'model-index.yml').read_text())
    return [repo_root / path for path in index['Import']]


def test_every_config_folder_has_a_readme_and_a_metafile_in_the_model_index(repo_root):
    folders = [repo_root / 'configs/mls', repo_root / 'configs/examples'] + sorted(
        p for p in (repo_root / 'configs/benchmarks').iterdir() if p.is_dir()
    )
    assert sorted(metafiles(repo_root)) == sorted(f / 'metafile.yml' for f in folders)
    for folder in folders:
        assert (folder / 'README.md').is_file(), folder


def test_every_config_named_in_a_metafile_exists_loads_and_every_config_is_named(repo_root):
    import yaml

    named = []
    for path in metafiles(repo_root):
        meta = yaml.safe_load(path.read_text())
        collections = {c['Name'] for c in meta['Collections']}
        for collection in meta['Collections']:
            assert (repo_root / collection['README']).is_file(), collection['README']
        for model in meta['Models']:
            assert model['In Collection'] in collections, model['Name']
            config = repo_root / model['Config']
            assert config.is_file(), f'{path}: {model["Config"]} does not exist'
            assert Path(model['Config']).stem == model['Name'], model['Name']
            Config.fromfile(str(config))
            for result in model['Results']:
                assert result['Metrics'] and all(
                    isinstance(v, (int, float)) for v in result['Metrics'].values()
                ), model['Name']
            named.append(str(config))
    assert sorted(named) == CONFIGS  # every config of configs/ has its entry


@pytest.mark.parametrize(
    'name,epochs',
    [
        ('mmdet/mask-rcnn_r50-fpn-syncbn_ms-1x_coco.py', 800),
        ('mmdet/mask-rcnn_r50-c4-syncbn_ms-1x_coco.py', 400),  # paper Table 2
        ('classification/resnet50_linear-multilabel_8xb16-coslr-100e_voc07.py', 400),  # Table 5
    ],
)
def test_benchmarks_default_to_the_checkpoint_the_paper_used(repo_root, name, epochs):
    cfg = Config.fromfile(str(repo_root / 'configs/benchmarks' / name))
    assert cfg.pretrained == (
        f'work_dirs/mls_resnet50_8xb32-coslr-{epochs}e_coco/epoch_{epochs}.pth'
    )


MMCV_LITE = """
import sys
class NoCompiledOps:  # what an mmcv-lite install gives: mmcv without mmcv.ops / mmcv._ext
    def find_spec(self, name, path=None, target=None):
        if name == 'mmcv._ext' or name.startswith('mmcv.ops'):
            raise ImportError(f'no {name} (mmcv-lite)')
sys.meta_path.insert(0, NoCompiledOps())
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
import mls_plugin
init_default_scope('mmpretrain')
cfg = Config.fromfile(sys.argv[1])
model = MODELS.build(cfg.model)
x = torch.rand(2, 3, 64, 64)
print(tuple(model.backbone(x)[-1].shape))
print(sorted({m.split('.')[0] for m in sys.modules} & {'mmseg', 'mmdet'}))
"""


def test_pretraining_needs_neither_mmseg_nor_mmcv_ops(repo_root):
    """Pretraining must work on an mmcv-lite install (no compiled ops), as on a GPU host where
    mmcv's CUDA ops were not built: with mmcv.ops made unimportable, ``import mls_plugin``
    works, imports no mmseg, and the demo config's model builds and runs; the CamVid config
    imports its (mmseg) dataset module itself."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, '-c', MMCV_LITE, str(repo_root / DEMO)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    shape, modules = out.stdout.strip().splitlines()[-2:]
    assert shape.startswith('(2, ') and shape.count(',') == 3  # a 4-D feature map of the batch
    assert 'mmseg' not in modules
    camvid = Config.fromfile(
        str(repo_root / 'configs/benchmarks/mmseg/pspnet_r50-d8_4xb4-20k_camvid-360x480.py'),
        import_custom_modules=False,
    )
    assert 'mls_plugin.benchmarks.camvid' in camvid.custom_imports['imports']


def _view_size(pipeline, preprocessor=None):
    """Side of the training views: the RandomResizedCrop inside MultiView, or the size of the
    data preprocessor that makes them on the device."""
    if preprocessor and preprocessor['type'] == 'MoCoV2TwoViewPreprocessor':
        assert not [t for t in pipeline if t['type'] == 'MultiView']
        return preprocessor['size']
    (multi_view,) = [t for t in pipeline if t['type'] == 'MultiView']
    (crop,) = [t for t in multi_view['transforms'][0] if t['type'] == 'RandomResizedCrop']
    return crop['scale']


def test_knn_monitors_see_images_of_the_training_views_size():
    """A monitor at another resolution than training would measure a different network."""
    monitored = 0
    for path in CONFIGS:
        cfg = Config.fromfile(path)
        hooks = [h for h in cfg.get('custom_hooks', []) if h['type'] == 'KNNMultiLabelHook']
        if not hooks:
            continue
        monitored += 1
        size = _view_size(cfg.train_dataloader.dataset.pipeline, cfg.get('data_preprocessor'))
        for hook in hooks:
            for loader in (hook['bank_dataloader'], hook['query_dataloader']):
                dataset = loader['dataset']
                (centre,) = [t for t in dataset['pipeline'] if t['type'] == 'CenterCrop']
                assert centre['crop_size'] == size, path
                assert dataset['data_root'] == cfg.train_dataloader.dataset.data_root, path
    assert monitored >= 3  # coco_scenes, voc_animals, the demo at least
