"""Classification transfer benchmarks: CocoMultiLabelDataset and the frozen linear probes.

The end-to-end tests train the COCO probe config on coco_tiny (80 train2017 / 80 val2017 real
images) at 64 px through ``tools/train.py --pretrained``, then evaluate with ``tools/test.py``.
"""

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest
import torch

COCO_CFG = 'configs/benchmarks/classification/resnet50_linear-multilabel_8xb16-coslr-30e_coco.py'
VOC_CFG = 'configs/benchmarks/classification/resnet50_linear-multilabel_8xb16-coslr-100e_voc07.py'


def build_dataset(**kwargs):
    from mmpretrain.registry import DATASETS

    import mls_plugin  # noqa: F401

    return DATASETS.build(dict(type='CocoMultiLabelDataset', **kwargs))


def backbone_state(path) -> Dict[str, torch.Tensor]:
    state = torch.load(path, map_location='cpu', weights_only=True)['state_dict']
    return {k[len('backbone.') :]: v for k, v in state.items() if k.startswith('backbone.')}


def read_scalars(work_dir: Path) -> List[dict]:
    """The training run's ``vis_data/scalars.json``, one dict a logged step."""
    files = sorted(work_dir.glob('*/vis_data/scalars.json'))
    assert files, f'no scalars.json under {work_dir}'
    return [json.loads(line) for line in files[-1].read_text().splitlines() if line.strip()]


def read_test_metrics(work_dir: Path) -> dict:
    """The metrics a ``Runner.test()`` run dumps to ``<timestamp>/<timestamp>.json``."""
    files = sorted(p for p in work_dir.glob('*/*.json') if p.stem == p.parent.name)
    assert files, f'no test metrics json under {work_dir}'
    return json.loads(files[-1].read_text())


# ----------------------------------------------------------------------------- dataset


def test_coco_multilabel_labels_match_pycocotools(coco_tiny):
    from pycocotools.coco import COCO

    ann_file = coco_tiny / 'annotations/instances_val2017.json'
    dataset = build_dataset(
        data_root=str(coco_tiny),
        ann_file='annotations/instances_val2017.json',
        data_prefix='images/val2017/',
    )
    coco = COCO(str(ann_file))
    cat_ids = sorted(coco.getCatIds())
    assert len(dataset) == len(coco.getImgIds()) == 80
    assert len(dataset.CLASSES) == 80
    assert list(dataset.CLASSES) == [coco.loadCats(c)[0]['name'] for c in cat_ids]
    assert dataset.CLASSES[0] == 'person' and dataset.CLASSES[-1] == 'toothbrush'  # id 90
    checked = []
    for idx in (0, 37, 79):
        info = dataset.get_data_info(idx)
        img_id = info['img_id']
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[img_id], iscrowd=False))
        expected = sorted({cat_ids.index(a['category_id']) for a in anns})
        assert info['gt_label'] == expected and expected
        assert dataset.get_cat_ids(idx) == expected
        file_name = coco.loadImgs(img_id)[0]['file_name']
        assert info['img_path'] == str(coco_tiny / 'images/val2017' / file_name)
        assert Path(info['img_path']).is_file()
        checked += expected
    # the sparse ids matter here: some label's COCO id is not its index + 1
    assert any(cat_ids[i] != i + 1 for i in checked)


def test_coco_multilabel_crowd_and_empty_images(coco_tiny, tmp_path):
    coco = json.loads((coco_tiny / 'annotations/instances_val2017.json').read_text())
    ids = [image['id'] for image in coco['images']]
    crowd_only, empty = ids[0], ids[1]
    anns = [a for a in coco['annotations'] if a['image_id'] != empty]
    for a in anns:
        if a['image_id'] == crowd_only:
            a['iscrowd'] = 1
    (tmp_path / 'ann.json').write_text(json.dumps(dict(coco, annotations=anns)))

    kept = build_dataset(ann_file=str(tmp_path / 'ann.json'), data_prefix='img/')
    assert len(kept) == 80
    assert kept.get_data_info(0)['gt_label'] == [] and kept.get_data_info(1)['gt_label'] == []
    dropped = build_dataset(
        ann_file=str(tmp_path / 'ann.json'), filter_cfg=dict(filter_empty_gt=True)
    )
    assert len(dropped) == 78 and crowd_only not in {d['img_id'] for d in dropped}

    subset = build_dataset(
        ann_file=str(tmp_path / 'ann.json'), metainfo=dict(classes=['dog', 'person'])
    )
    assert subset.CLASSES == ('dog', 'person')
    assert all(set(subset.get_cat_ids(i)) <= {0, 1} for i in range(len(subset)))


def test_coco_multilabel_bad_json(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.json'):
        build_dataset(ann_file=str(tmp_path / 'nope.json'))
    (tmp_path / 'broken.json').write_text('{"images": [')
    with pytest.raises(ValueError, match='broken.json is not valid JSON'):
        build_dataset(ann_file=str(tmp_path / 'broken.json'))
    (tmp_path / 'captions.json').write_text('{"images": [], "annotations": []}')
    with pytest.raises(ValueError, match=r'captions.json is not a COCO instances json.*categories'):
        build_dataset(ann_file=str(tmp_path / 'captions.json'))
    bad = dict(
        images=[dict(id=1, file_name='a.jpg')],
        annotations=[dict(id=1, image_id=1, category_id=7)],
        categories=[dict(id=1, name='person')],
    )
    (tmp_path / 'bad.json').write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=r'bad.json: annotations\[0\].*category_id 7'):
        build_dataset(ann_file=str(tmp_path / 'bad.json'))


def test_probe_configs_freeze_the_whole_backbone():
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS

    import mls_plugin  # noqa: F401

    for path, classes in ((VOC_CFG, 20), (COCO_CFG, 80)):
        cfg = Config.fromfile(path)
        init_default_scope('mmpretrain')
        model = MODELS.build(cfg.model)
        model.train()
        assert not any(p.requires_grad for p in model.backbone.parameters())
        norms = [m for m in model.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        assert len(norms) == 53 and not any(m.training for m in norms)  # running stats stay
        assert [n for n, p in model.named_parameters() if p.requires_grad] == [
            'head.fc.weight',
            'head.fc.bias',
        ]
        assert model.head.fc.out_features == cfg.data_preprocessor.num_classes == classes
        assert cfg.model.backbone.zero_init_residual is False


# ----------------------------------------------------------------------------- end to end


@pytest.fixture(scope='module')
def probe_checkpoint(mls_r50_checkpoint) -> Path:
    return mls_r50_checkpoint


def coco_tiny_options(coco_tiny: Path, epochs: int = 2) -> List[str]:
    """--cfg-options that put the COCO probe on coco_tiny at 64 px, batch 8, ``epochs`` epochs."""
    prefixes = dict(train='images/train2017/', val='images/val2017/', test='images/val2017/')
    opts = []
    for split, prefix in prefixes.items():
        loader = f'{split}_dataloader'
        opts += [
            f'{loader}.dataset.data_root={coco_tiny}',
            f'{loader}.dataset.data_prefix={prefix}',
            f'{loader}.batch_size=8',
            f'{loader}.num_workers=0',
        ]
        if split != 'train':
            opts += [f'{loader}.dataset.pipeline.1.scale=73']
            opts += [f'{loader}.dataset.pipeline.2.crop_size=64']
    return opts + [
        'train_dataloader.dataset.pipeline.1.scale=64',
        # The config's lr (15, MoCo's linear protocol) is for MLS features, not a random net.
        'optim_wrapper.optimizer.lr=1e-5',
        f'train_cfg.max_epochs={epochs}',
        'train_cfg.val_interval=1',
        f'param_scheduler.0.T_max={epochs}',
        f'param_scheduler.0.end={epochs}',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.logger.interval=5',
        'randomness.seed=0',
    ]


def run_tool(repo_root: Path, tool: str, *args) -> subprocess.CompletedProcess:
    cmd = [sys.executable, f'tools/{tool}', *map(str, args)]
    return subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope='module')
def coco_probe_run(repo_root, coco_tiny, probe_checkpoint, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('coco_probe')
    res = run_tool(
        repo_root,
        'train.py',
        COCO_CFG,
        '--work-dir',
        work_dir,
        '--pretrained',
        probe_checkpoint,
        '--cfg-options',
        *coco_tiny_options(coco_tiny),
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return work_dir, res


@pytest.mark.slow
def test_coco_probe_trains_and_reports_map(coco_probe_run, probe_checkpoint):
    work_dir, res = coco_probe_run
    assert f'CheckedPretrained: ResNet <- {probe_checkpoint}' in res.stdout + res.stderr
    assert '318/318 tensors loaded' in res.stdout + res.stderr
    scalars = read_scalars(work_dir)
    losses = [s['loss'] for s in scalars if 'loss' in s]
    assert len(losses) == 4 and all(math.isfinite(v) for v in losses)  # 10 iters/epoch, log 5
    assert losses[-1] < losses[0]
    maps = [s['multi-label/mAP'] for s in scalars if 'multi-label/mAP' in s]
    assert len(maps) == 2 and all(math.isfinite(v) and 0 <= v <= 100 for v in maps)
    for key in ('multi-label/precision', 'multi-label/f1-score_micro'):
        assert all(key in s for s in scalars if 'multi-label/mAP' in s)
    print(f'coco_tiny probe: val mAP per epoch {maps}, losses {losses}')
    assert (work_dir / 'epoch_2.pth').is_file()


@pytest.mark.slow
def test_coco_probe_backbone_stays_frozen(coco_probe_run, probe_checkpoint):
    work_dir, _ = coco_probe_run
    pretrained = backbone_state(probe_checkpoint)
    assert len(pretrained) == 318
    states = {}
    for epoch in (1, 2):
        state = torch.load(work_dir / f'epoch_{epoch}.pth', map_location='cpu', weights_only=True)
        states[epoch] = state['state_dict']
        trained = {
            k[len('backbone.') :]: v for k, v in states[epoch].items() if k.startswith('backbone.')
        }
        assert trained.keys() == pretrained.keys()
        changed = [k for k, v in pretrained.items() if not torch.equal(trained[k], v)]
        assert not changed, f'epoch {epoch}: backbone tensors changed: {changed[:5]}'
    # the head did train: its bias starts at 0 (Normal init), and it moved between epochs
    assert states[1]['head.fc.weight'].shape == (80, 2048)
    assert states[1]['head.fc.bias'].abs().sum() > 0
    assert not torch.equal(states[1]['head.fc.weight'], states[2]['head.fc.weight'])
    assert not torch.equal(states[1]['head.fc.bias'], states[2]['head.fc.bias'])


@pytest.mark.slow
def test_tools_test_reproduces_the_val_map(repo_root, coco_tiny, coco_probe_run, tmp_path):
    if not (repo_root / 'tools/test.py').is_file():
        pytest.skip('tools/test.py is not in this checkout (written separately)')
    work_dir, _ = coco_probe_run
    res = run_tool(
        repo_root,
        'test.py',
        COCO_CFG,
        work_dir / 'epoch_2.pth',
        '--work-dir',
        tmp_path,
        '--cfg-options',
        *coco_tiny_options(coco_tiny),
    )
    assert res.returncode == 0, res.stderr[-3000:]
    test_map = read_test_metrics(tmp_path)['multi-label/mAP']
    val_map = [s['multi-label/mAP'] for s in read_scalars(work_dir) if 'multi-label/mAP' in s]
    # the same weights on the same images: the val mAP of the last epoch, reproduced
    assert test_map == pytest.approx(val_map[-1], abs=1e-4)
    assert f'multi-label/mAP: {test_map:.4f}' in res.stdout + res.stderr
    print(f'tools/test.py mAP {test_map:.4f} (val at epoch 2: {val_map[-1]:.4f})')


@pytest.mark.slow
def test_wrong_checkpoint_is_refused_with_counts(repo_root, coco_tiny, tmp_path):
    from mmpretrain.models.backbones import ResNet

    r18 = ResNet(depth=18).state_dict()
    r50 = ResNet(depth=50).state_dict()
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in r18.items()}}, tmp_path / 'r18.pth')
    missing = len(r50.keys() - r18.keys())
    unexpected = len(r18.keys() - r50.keys())
    reshaped = sum(r18[k].shape != r50[k].shape for k in r18.keys() & r50.keys())
    assert missing and reshaped
    res = run_tool(
        repo_root,
        'train.py',
        COCO_CFG,
        '--work-dir',
        tmp_path / 'work',
        '--pretrained',
        tmp_path / 'r18.pth',
        '--cfg-options',
        *coco_tiny_options(coco_tiny, epochs=1),
    )
    assert res.returncode != 0
    assert 'CheckedPretrained' in res.stderr and 'r18.pth' in res.stderr
    counts = f'{missing} missing, {unexpected} unexpected, {reshaped} with another shape'
    assert counts in res.stderr, res.stderr[-2000:]
    assert not list((tmp_path / 'work').glob('*.pth'))


def make_voc07(root: Path, images: List[Path]) -> None:
    """A VOC2007-layout folder: JPEGImages, Annotations (with `difficult`), ImageSets/Main."""
    from mmpretrain.datasets.categories import VOC2007_CATEGORIES

    for sub in ('JPEGImages', 'Annotations', 'ImageSets/Main'):
        (root / sub).mkdir(parents=True)
    names = []
    for i, src in enumerate(images):
        name = f'{i:06d}'
        names.append(name)
        shutil.copy(src, root / 'JPEGImages' / f'{name}.jpg')
        objects = [(i % 20, 0), ((7 * i + 3) % 20, 0), ((i + 5) % 20, 1)]
        body = ''.join(
            f'<object><name>{VOC2007_CATEGORIES[c]}</name><difficult>{d}</difficult></object>'
            for c, d in objects
        )
        (root / 'Annotations' / f'{name}.xml').write_text(f'<annotation>{body}</annotation>')
    half = len(names) // 2
    (root / 'ImageSets/Main/trainval.txt').write_text('\n'.join(names[:half]) + '\n')
    (root / 'ImageSets/Main/test.txt').write_text('\n'.join(names[half:]) + '\n')


@pytest.mark.slow
def test_voc07_probe_runs_on_a_voc_layout(repo_root, coco_tiny, probe_checkpoint, tmp_path):
    """The VOC07 config end to end on a VOC2007-layout folder (coco_tiny images, made-up labels).

    Checks the data layout, the splits, the `difficult` handling and VOC mAP, not accuracy.
    """
    root = tmp_path / 'VOCdevkit/VOC2007'
    make_voc07(root, sorted((coco_tiny / 'images/val2017').glob('*.jpg'))[:40])
    opts = [
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        'train_dataloader.batch_size=8',
        'val_dataloader.batch_size=8',
        'train_dataloader.num_workers=0',
        'val_dataloader.num_workers=0',
        'train_dataloader.dataset.pipeline.1.scale=64',
        'val_dataloader.dataset.pipeline.1.scale=73',
        'val_dataloader.dataset.pipeline.2.crop_size=64',
        'optim_wrapper.optimizer.lr=0.001',  # see coco_tiny_options
        'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1',
        'default_hooks.logger.interval=1',
        'randomness.seed=0',
    ]
    res = run_tool(
        repo_root,
        'train.py',
        VOC_CFG,
        '--work-dir',
        tmp_path / 'work',
        '--pretrained',
        probe_checkpoint,
        '--cfg-options',
        *opts,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    scalars = read_scalars(tmp_path / 'work')
    assert all(math.isfinite(s['loss']) for s in scalars if 'loss' in s)
    maps = [s['multi-label/mAP'] for s in scalars if 'multi-label/mAP' in s]
    assert len(maps) == 1 and math.isfinite(maps[0]) and 0 <= maps[0] <= 100
    print(f'VOC-layout probe: mAP {maps[0]:.4f}')
