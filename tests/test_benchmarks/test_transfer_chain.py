"""The whole transfer chain on real data, on CPU, at toy sizes.

MLS pretraining (ResNet-50, coco_tiny) -> backbone extraction -> Mask R-CNN
R50-FPN fine-tuning on coco_tiny + tools/test.py (COCO bbox / segm AP by
pycocotools) -> segmentation fine-tuning on CamVid + tools/test.py (mIoU) ->
the linear multi-label probe on coco_tiny's labels (mAP). The numbers only
have to be real, not good.
"""

import re
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import MODELS, init_default_scope

import mls_plugin  # noqa: F401

pytestmark = pytest.mark.slow

PRETRAIN = 'configs/mls/mls_resnet50_8xb32-coslr-800e_coco.py'
MASK_RCNN = 'configs/benchmarks/mmdet/mask-rcnn_r50-fpn-syncbn_ms-1x_coco.py'


def run(repo_root, *cmd, timeout=900):
    res = subprocess.run(
        [sys.executable, *map(str, cmd)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    return res.stdout + res.stderr


def options(**kv):
    return ['--cfg-options', *(f'{k}={v}' for k, v in kv.items())]


def coco_tiny_det(coco_tiny):
    """cfg-options that point an mmdet COCO config at coco_tiny, at toy size."""
    small = '[(256,160)]'
    return {
        'train_dataloader.dataset.data_root': f'{coco_tiny}/',
        'train_dataloader.dataset.data_prefix.img': 'images/train2017/',
        'train_dataloader.dataset.indices': 4,
        'train_dataloader.dataset.pipeline.2.scales': small,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'val_dataloader.dataset.data_root': f'{coco_tiny}/',
        'val_dataloader.dataset.data_prefix.img': 'images/val2017/',
        'val_dataloader.dataset.indices': 4,
        'val_dataloader.dataset.pipeline.1.scale': '(256,160)',
        'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False,
        'val_evaluator.ann_file': f'{coco_tiny}/annotations/instances_val2017.json',
        'test_dataloader.dataset.data_root': f'{coco_tiny}/',
        'test_dataloader.dataset.data_prefix.img': 'images/val2017/',
        'test_dataloader.dataset.indices': 4,
        'test_dataloader.dataset.pipeline.1.scale': '(256,160)',
        'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False,
        'test_evaluator.ann_file': f'{coco_tiny}/annotations/instances_val2017.json',
        'train_cfg.max_epochs': 1,
        'default_hooks.logger.interval': 1,
    }


@pytest.fixture(scope='module')
def pretrained(repo_root, coco_tiny, tmp_path_factory):
    """A short real MLS pretraining and its extracted backbone."""
    work = tmp_path_factory.mktemp('chain_pretrain')
    run(
        repo_root,
        'tools/train.py',
        PRETRAIN,
        '--work-dir',
        work,
        *options(
            **{
                'train_dataloader.dataset.data_root': coco_tiny,
                'train_dataloader.dataset.ann_file': 'annotations/instances_train2017.json',
                'train_dataloader.dataset.data_prefix': 'images/train2017/',
                'train_dataloader.dataset.indices': 8,
                'train_dataloader.batch_size': 4,
                'train_dataloader.num_workers': 0,
                'train_dataloader.persistent_workers': False,
                'train_dataloader.dataset.pipeline.1.transforms.0.0.scale': 64,
                'model.memory.length': 16,
                'model.head.topk': 4,
                'train_cfg.max_epochs': 1,
            }
        ),
    )
    backbone = work / 'backbone.pth'
    out = run(
        repo_root,
        'tools/model_converters/extract_backbone_weights.py',
        work / 'epoch_1.pth',
        backbone,
        '--torchvision',
    )
    assert 'wrote 318 tensors' in out
    return backbone


def test_mask_rcnn_starts_from_the_pretrained_backbone(repo_root, pretrained):
    cfg = Config.fromfile(str(repo_root / MASK_RCNN))
    mls_plugin.models.set_pretrained(cfg.model, str(pretrained))
    init_default_scope(cfg.default_scope)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    expected = torch.load(pretrained, weights_only=True)
    own = model.backbone.state_dict()
    assert own.keys() == expected.keys()
    assert all(torch.equal(own[k], expected[k]) for k in own)


def test_mask_rcnn_finetune_and_coco_ap(repo_root, coco_tiny, pretrained, tmp_path):
    work = tmp_path / 'mask_rcnn'
    opts = coco_tiny_det(coco_tiny)
    out = run(
        repo_root,
        'tools/train.py',
        MASK_RCNN,
        '--work-dir',
        work,
        '--pretrained',
        pretrained,
        '--no-validate',
        *options(**opts),
    )
    assert 'CheckedPretrained: ResNet' in out and '318/318 tensors loaded' in out
    losses = [float(v) for v in re.findall(r'\bloss: ([0-9.]+)', out)]
    assert len(losses) == 2 and all(v == v for v in losses)  # 4 images, batch 2
    out = run(repo_root, 'tools/test.py', MASK_RCNN, work / 'epoch_1.pth', *options(**opts))
    aps = {}
    for kind in ('bbox', 'segm'):
        match = re.search(rf'coco/{kind}_mAP: (-?[0-9.]+)', out)
        assert match, out[-3000:]
        aps[kind] = float(match.group(1))
        assert 0.0 <= aps[kind] <= 1.0
    print(f'Mask R-CNN R50-FPN, 2 iterations on coco_tiny: COCO AP {aps}')
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95' in out  # pycocotools' own table


def test_iteration_based_mask_rcnn_runs_precise_bn(repo_root, coco_tiny, pretrained, tmp_path):
    """The paper's COCO row: IterBasedTrainLoop, InfiniteSampler under AspectRatioBatchSampler,
    and PreciseBNIterHook's training-mode forward through a real Mask R-CNN."""
    opts = coco_tiny_det(coco_tiny)
    opts.pop('train_cfg.max_epochs')
    opts.update({
        'train_cfg.max_iters': 2,
        'train_cfg.val_interval': 2,
        'param_scheduler.1.end': 2,
        'custom_hooks.0.interval': 2,
        'custom_hooks.0.num_iters': 2,
    })  # fmt: skip
    config = 'configs/benchmarks/mmdet/mask-rcnn_r50-fpn-syncbn_ms-90k_coco.py'
    work = tmp_path / 'mask_rcnn_90k'
    out = run(repo_root, 'tools/train.py', config, '--work-dir', work, '--pretrained', pretrained,
              '--no-validate', *options(**opts))  # fmt: skip
    match = re.search(
        r'PreciseBN: the statistics of (\d+) BN layers re-estimated over 2 batches', out
    )
    assert match and int(match.group(1)) > 50, out[-3000:]  # backbone, FPN and heads (SyncBN -> BN)
    assert (work / 'iter_2.pth').is_file()


CAMVID = 'configs/benchmarks/mmseg/pspnet_r50-d8_4xb4-20k_camvid-360x480.py'
PROBE = 'configs/benchmarks/classification/resnet50_linear-multilabel_8xb16-coslr-30e_coco.py'


def test_segmentation_finetune_and_miou(repo_root, camvid_small, pretrained, tmp_path):
    work = tmp_path / 'pspnet'
    opts = {
        'train_dataloader.dataset.data_root': camvid_small,
        'train_dataloader.dataset.pipeline.2.scale': '(120,90)',
        'train_dataloader.dataset.pipeline.3.crop_size': '(64,64)',
        'train_dataloader.batch_size': 2,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'model.data_preprocessor.size': '(64,64)',
        'val_dataloader.dataset.data_root': camvid_small,
        'val_dataloader.dataset.indices': 4,
        'val_dataloader.dataset.pipeline.1.scale': '(120,90)',
        'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False,
        'test_dataloader.dataset.data_root': camvid_small,
        'test_dataloader.dataset.indices': 4,
        'test_dataloader.dataset.pipeline.1.scale': '(120,90)',
        'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False,
        'train_cfg.max_iters': 4,
        'train_cfg.val_interval': 4,
        'default_hooks.logger.interval': 1,
        'default_hooks.checkpoint.interval': 4,
    }
    out = run(
        repo_root,
        'tools/train.py',
        CAMVID,
        '--work-dir',
        work,
        '--pretrained',
        pretrained,
        *options(**opts),
    )
    assert '318/318 tensors loaded' in out
    out = run(repo_root, 'tools/test.py', CAMVID, work / 'iter_4.pth', *options(**opts))
    match = re.search(r'mIoU: ([0-9.]+)', out)
    assert match, out[-3000:]
    assert 0.0 <= float(match.group(1)) <= 100.0
    print(f'CamVid PSPNet, 4 iterations: mIoU {match.group(1)}')


def probe_options(coco_tiny):
    """The linear probe config on coco_tiny, 1 epoch at 64 px."""
    opts = {'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1}
    for split, prefix in (('train', 'train2017'), ('val', 'val2017'), ('test', 'val2017')):
        opts.update(
            {
                f'{split}_dataloader.dataset.data_root': coco_tiny,
                f'{split}_dataloader.dataset.data_prefix': f'images/{prefix}/',
                f'{split}_dataloader.batch_size': 8,
                f'{split}_dataloader.num_workers': 0,
                f'{split}_dataloader.persistent_workers': False,
            }
        )
    opts['train_dataloader.dataset.pipeline.1.scale'] = 64
    for split in ('val', 'test'):
        opts[f'{split}_dataloader.dataset.pipeline.1.scale'] = 73
        opts[f'{split}_dataloader.dataset.pipeline.2.crop_size'] = 64
    return opts


def test_linear_probe_on_coco_labels_gives_map(repo_root, coco_tiny, pretrained, tmp_path):
    work = tmp_path / 'probe'
    opts = {**probe_options(coco_tiny), 'randomness.seed': 0}
    out = run(
        repo_root,
        'tools/train.py',
        PROBE,
        '--work-dir',
        work,
        '--pretrained',
        pretrained,
        *options(**opts),
    )
    assert '318/318 tensors loaded' in out
    match = re.search(r'multi-label/mAP: ([0-9.]+)', out)
    assert match, out[-3000:]
    assert 0.0 < float(match.group(1)) <= 100.0
    print(f'coco_tiny linear multi-label probe, 1 epoch: mAP {match.group(1)}')


def test_benchmark_over_seeds_writes_mean_and_std(repo_root, coco_tiny, pretrained, tmp_path):
    """tools/benchmarks/run_seeds.py: one tools/train.py run a seed, then mean +- std."""
    import json
    from statistics import mean, stdev

    work, table = tmp_path / 'seeds', tmp_path / 'rows.md'
    opts = [f'{k}={v}' for k, v in probe_options(coco_tiny).items()]
    args = ['tools/benchmarks/run_seeds.py', PROBE, '--seeds', 0, 1, '--work-dir', work]
    args += ['--pretrained', pretrained, '--markdown', table, '--cfg-options', *opts]
    run(repo_root, *args)
    per_seed = [json.loads((work / f'seed{s}' / 'metrics.json').read_text()) for s in (0, 1)]
    assert per_seed[0] != per_seed[1]  # the seed reached the run (the mAP alone may tie)
    assert all(0.0 < m['multi-label/mAP'] <= 100.0 for m in per_seed)
    metrics = json.loads((work / 'summary.json').read_text())['metrics']
    row = table.read_text().strip()
    assert row.startswith(f'| {PROBE.rsplit("/", 1)[1]} | 0,1 | ')
    for name in ('multi-label/mAP', 'multi-label/precision'):
        values = [m[name] for m in per_seed]
        assert metrics[name]['values'] == values
        assert metrics[name]['mean'] == mean(values) and metrics[name]['std'] == stdev(values)
        assert f'{name} {mean(values):.2f} +- {stdev(values):.2f}' in row
    # A finished seed is read back, not run again.
    out = run(repo_root, *args)
    assert 'seed 0: done before' in out and 'seed 1: done before' in out
