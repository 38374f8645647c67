"""Small-dataset fine-tuning configs (paper Table 5): configs/benchmarks/finetune/.

The config tests need no data. The end-to-end test fine-tunes the Indoor67 folder config
(mmpretrain ``CustomDataset``) on class folders of real voc_animals photos at 32 px through
``tools/train.py --pretrained`` and checks that the pretrained backbone was loaded and trained.
"""

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get('MLS_SHARED_DATA', REPO_ROOT.parent / 'shared' / 'data'))
FINETUNE = 'configs/benchmarks/finetune'
# Table 5's caption: all its models were pretrained for 400 epochs.
DEFAULT_CKPT = 'work_dirs/mls_resnet50_8xb32-coslr-400e_coco/epoch_400.pth'

# config key: (classes, dataset type, train split, test split); None: CustomDataset folders
DATASETS = {
    'cub': (200, 'CUB', 'train', 'test'),
    'flowers102': (102, 'Flowers102', 'trainval', 'test'),
    'cars': (196, 'StanfordCars', 'train', 'test'),
    'aircraft': (100, 'FGVCAircraft', 'trainval', 'test'),
    'indoor67': (67, 'CustomDataset', None, None),
    'pets': (37, 'OxfordIIITPet', 'trainval', 'test'),
    'dtd': (47, 'DTD', 'trainval', 'test'),
}
# Paper Table 5, MLS row, in the order of DATASETS.
PAPER_TOP1 = dict(zip(DATASETS, (71.7, 91.2, 88.5, 81.2, 67.1, 81.9, 63.0)))


def config_path(key: str) -> str:
    return str(REPO_ROOT / FINETUNE / f'resnet50_{key}-120e.py')


def load(key: str):
    from mmengine.config import Config

    import mls_plugin  # noqa: F401

    return Config.fromfile(config_path(key))


def build_model(cfg):
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS

    init_default_scope('mmpretrain')
    return MODELS.build(cfg.model)


def backbone_state(path) -> Dict[str, torch.Tensor]:
    state = torch.load(path, map_location='cpu', weights_only=True)['state_dict']
    return {k[len('backbone.') :]: v for k, v in state.items() if k.startswith('backbone.')}


# ----------------------------------------------------------------------------- configs


def test_the_folder_holds_one_config_per_dataset():
    found = sorted(p.name for p in (REPO_ROOT / FINETUNE).glob('*.py'))
    assert found == sorted(f'resnet50_{k}-120e.py' for k in DATASETS)


@pytest.mark.parametrize('key', list(DATASETS))
def test_config_builds_a_fully_trainable_resnet50_with_the_right_head(key):
    from mmengine.model import revert_sync_batchnorm

    classes = DATASETS[key][0]
    cfg = load(key)
    init = cfg.model.backbone.init_cfg
    assert init.type == 'CheckedPretrained' and init.prefix == 'backbone.'
    assert init.checkpoint == cfg.pretrained == DEFAULT_CKPT
    assert cfg.model.backbone.zero_init_residual is False  # else norm3 is zeroed after loading
    assert cfg.model.get('pretrained') is None
    assert cfg.data_preprocessor.num_classes == cfg.model.head.num_classes == classes

    model = revert_sync_batchnorm(build_model(cfg))
    assert type(model).__name__ == 'ImageClassifier'
    assert type(model.backbone).__name__ == 'ResNet' and model.backbone.depth == 50
    assert model.head.fc.out_features == classes and model.head.fc.in_features == 2048
    model.train()
    assert all(p.requires_grad for p in model.parameters())  # the whole network fine-tunes
    # SyncBN in the config, reverted to mmengine's _BatchNormXd as in a one-process run
    norms = [m for m in model.backbone.modules() if isinstance(m, _BatchNorm)]
    assert len(norms) == 53 and all(m.training for m in norms)
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 32, 32), mode='tensor').shape == (2, classes)


@pytest.mark.parametrize('key', list(DATASETS))
def test_config_keeps_the_paper_schedule_and_its_data(key, tmp_path):
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS as REGISTRY

    _, kind, train_split, test_split = DATASETS[key]
    cfg = load(key)
    assert cfg.train_cfg.max_epochs == 120  # the one setting the paper states
    assert [(s.type, s.end) for s in cfg.param_scheduler] == [('CosineAnnealingLR', 120)]
    assert cfg.val_evaluator.type == 'Accuracy' and cfg.val_evaluator.topk[0] == 1
    assert cfg.auto_scale_lr.base_batch_size == 64

    init_default_scope('mmpretrain')
    (tmp_path / 'cars_annos.mat').touch()  # StanfordCars looks for its layout at init
    for loader, split in (('train_dataloader', train_split), ('val_dataloader', test_split)):
        dataset_cfg = dict(cfg[loader].dataset, data_root=str(tmp_path), lazy_init=True)
        assert dataset_cfg['type'] == kind
        dataset = REGISTRY.build(dataset_cfg)  # the arguments fit the class; no data read
        assert getattr(dataset, 'split', None) == split
        crop = dataset_cfg['pipeline'][1]
        if loader == 'train_dataloader':
            assert (crop['type'], crop['scale']) == ('RandomResizedCrop', 224)
        else:
            assert dataset_cfg['pipeline'][2]['crop_size'] == 224
    if kind == 'CustomDataset':
        assert cfg.train_dataloader.dataset.data_prefix == 'train'
        assert cfg.val_dataloader.dataset.data_prefix == 'test'


# Every config of the paper's Table 5 (400-epoch models): the seven fine-tuning configs and the
# VOC07 SVM (Table 5's VOC07 column).
TABLE5_CONFIGS = [f'{FINETUNE}/resnet50_{key}-120e.py' for key in DATASETS] + [
    'configs/benchmarks/classification/svm_resnet50_voc07.py'
]


@pytest.mark.parametrize('name', TABLE5_CONFIGS)
def test_table5_configs_load_the_400_epoch_checkpoint(name):
    from mmengine.config import Config

    import mls_plugin  # noqa: F401

    assert (REPO_ROOT / 'configs/mls/mls_resnet50_8xb32-coslr-400e_coco.py').is_file()
    cfg = Config.fromfile(str(REPO_ROOT / name))
    assert cfg.pretrained == DEFAULT_CKPT
    init = cfg.model.backbone.init_cfg
    assert init.type == 'CheckedPretrained' and init.prefix == 'backbone.'
    assert init.checkpoint == DEFAULT_CKPT
    assert '800' not in cfg.pretrained


def test_metafile_lists_every_config_with_the_paper_top1():
    import yaml

    meta = yaml.safe_load((REPO_ROOT / FINETUNE / 'metafile.yml').read_text())
    models = {m['Name']: m for m in meta['Models']}
    assert sorted(models) == sorted(f'resnet50_{k}-120e' for k in DATASETS)
    for key, top1 in PAPER_TOP1.items():
        (result,) = models[f'resnet50_{key}-120e']['Results']
        assert result['Metrics'] == {'Top 1 Accuracy': top1}
        assert 'Table 5' in result['Note'] and '400 ep' in result['Note']
    index = yaml.safe_load((REPO_ROOT / 'model-index.yml').read_text())
    assert f'{FINETUNE}/metafile.yml' in index['Import']


def test_init_loads_every_backbone_tensor_of_the_checkpoint(mls_r50_checkpoint):
    from mls_plugin.models import set_pretrained

    cfg = load('indoor67')
    assert set_pretrained(cfg.model, str(mls_r50_checkpoint)) == 1
    model = build_model(cfg)
    model.init_weights()
    pretrained = backbone_state(mls_r50_checkpoint)
    own = model.backbone.state_dict()
    assert len(pretrained) == len(own) == 318
    assert all(torch.equal(own[k], v) for k, v in pretrained.items())


# ----------------------------------------------------------------------------- end to end


@pytest.fixture(scope='module')
def animal_folders(tmp_path_factory) -> Path:
    """<root>/{train,test}/<class>/*.jpg: 4 + 4 real voc_animals photos per class, 3 classes.

    An image's class is the category of its first annotation.
    """
    source = SHARED_DATA / 'voc_animals'
    if not (source / 'annotations/instances_train.json').is_file():
        pytest.fail(f'voc_animals not found at {source}; set MLS_SHARED_DATA')
    root = tmp_path_factory.mktemp('animals')
    for split, folder in (('train', 'train'), ('val', 'test')):
        coco = json.loads((source / f'annotations/instances_{split}.json').read_text())
        names = {c['id']: c['name'] for c in coco['categories']}
        first = {}
        for ann in coco['annotations']:
            first.setdefault(ann['image_id'], names[ann['category_id']])
        counts = dict.fromkeys(('cat', 'dog', 'horse'), 0)
        for image in sorted(coco['images'], key=lambda i: i['file_name']):
            name = first.get(image['id'])
            if name in counts and counts[name] < 4:
                counts[name] += 1
                dest = root / folder / name
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy(source / 'images' / split / image['file_name'], dest)
        assert counts == dict.fromkeys(counts, 4), counts
    return root


@pytest.mark.slow
def test_indoor67_config_fine_tunes_from_the_pretrained_backbone(
    animal_folders, mls_r50_checkpoint, tmp_path
):
    work_dir = tmp_path / 'work'
    opts = ['model.head.num_classes=3', 'data_preprocessor.num_classes=3']
    for loader in ('train_dataloader', 'val_dataloader'):
        opts += [
            f'{loader}.dataset.data_root={animal_folders}',
            f'{loader}.batch_size=4',
            f'{loader}.num_workers=0',
        ]
    opts += [
        'train_dataloader.dataset.pipeline.1.scale=32',
        'val_dataloader.dataset.pipeline.1.scale=36',
        'val_dataloader.dataset.pipeline.2.crop_size=32',
        # The config's lr (0.01) is for a trained backbone. This one is random weights plus
        # noise, at 32 px and batch 4 (layer4's BN normalises over 4 values): its stem gets
        # gradients ~1e4 times its weights, which lr 0.01 would blow up in one step.
        'optim_wrapper.optimizer.lr=1e-6',
        'train_cfg.max_epochs=1',  # 12 images at batch 4: 3 iterations
        'train_cfg.val_interval=1',
        'param_scheduler.0.T_max=1',
        'param_scheduler.0.end=1',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.logger.interval=1',
        'randomness.seed=0',
    ]
    cmd = [
        sys.executable,
        'tools/train.py',
        config_path('indoor67'),
        '--work-dir',
        str(work_dir),
        '--pretrained',
        str(mls_r50_checkpoint),
        '--cfg-options',
        *opts,
    ]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    res = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    log = res.stdout + res.stderr
    assert f'CheckedPretrained: ResNet <- {mls_r50_checkpoint}' in log
    assert '318/318 tensors loaded' in log

    # (i) it trained, validated and wrote a checkpoint
    assert (work_dir / 'epoch_1.pth').is_file()
    (scalars_file,) = work_dir.glob('*/vis_data/scalars.json')
    scalars = [json.loads(line) for line in scalars_file.read_text().splitlines() if line]
    losses = [s['loss'] for s in scalars if 'loss' in s]
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)
    top1 = [s['accuracy/top1'] for s in scalars if 'accuracy/top1' in s]
    assert len(top1) == 1 and 0 <= top1[0] <= 100

    # (ii) the backbone started from the checkpoint and was fine-tuned, not frozen. Every conv
    # weight ends near its pretrained value (a fresh Kaiming init is >= 1.4 times the weight's
    # norm away), norm3 was not zeroed after loading, and every stage moved.
    pretrained = backbone_state(mls_r50_checkpoint)
    trained = backbone_state(work_dir / 'epoch_1.pth')
    assert trained.keys() == pretrained.keys()
    convs = [k for k, v in pretrained.items() if v.dim() == 4]
    assert len(convs) == 53
    for key in convs:
        before, after = pretrained[key], trained[key]
        assert (after - before).norm() < 0.25 * before.norm(), key
    for stage in ('layer1', 'layer2', 'layer3', 'layer4'):
        assert trained[f'{stage}.0.bn3.weight'].abs().mean() > 0.5  # checkpoint: 1 + noise
    moved = {k.split('.')[0] for k in convs if not torch.equal(trained[k], pretrained[k])}
    assert moved == {'conv1', 'layer1', 'layer2', 'layer3', 'layer4'}  # the stem and every stage
    state = torch.load(work_dir / 'epoch_1.pth', map_location='cpu', weights_only=True)
    assert state['state_dict']['head.fc.weight'].shape == (3, 2048)
