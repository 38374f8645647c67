"""The monitors in a real run, then every analysis script on its checkpoint (PNG out)."""

import json
import subprocess
import sys

import pytest
import torch
from PIL import Image

import mls_plugin  # noqa: F401  (the checkpoint allow-list)

pytestmark = pytest.mark.slow

CONFIG = """
_base_ = '{repo}/configs/mls/mls_resnet18_1xb32-coslr-50e_demo-scenes_monitors.py'
coco = '{coco}/'
view = _base_.view_pipeline
view[0]['scale'] = 48
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=coco, ann_file='annotations/instances_train2017.json',
                 data_prefix='images/train2017/',
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='MultiView', num_views=2, transforms=[view]),
                           dict(type='PackInputs')]))
model = dict(memory=dict(length=32), head=dict(topk=4))
knn = _base_.knn_dataloader
knn['dataset'].update(data_root=coco, ann_file='annotations/instances_train2017.json',
                      data_prefix='images/train2017/')
knn['dataset']['pipeline'][1]['scale'] = 48
knn['dataset']['pipeline'][2]['crop_size'] = 48
knn_val = dict(knn, dataset=dict(knn['dataset'], ann_file='annotations/instances_val2017.json',
                                 data_prefix='images/val2017/'))
custom_hooks = [
    dict(type='RandomStateHook'),
    dict(type='PseudoLabelPrecisionHook', interval=2),
    dict(type='KNNMultiLabelHook', bank_dataloader=knn, query_dataloader=knn_val, interval=1),
]
train_cfg = dict(max_epochs=2)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=2, by_epoch=True, begin=0, end=2)]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
"""


def run(repo_root, *args, check=True):
    result = subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope='module')
def tiny_run(repo_root, coco_tiny, tmp_path_factory):
    """Two epochs on coco_tiny with both monitors: (config, checkpoint, work dir)."""
    work = tmp_path_factory.mktemp('analysis')
    config = work / 'config.py'
    config.write_text(CONFIG.format(repo=repo_root, coco=coco_tiny))
    run(repo_root, 'tools/train.py', config, '--work-dir', work / 'run')
    return config, work / 'run' / 'epoch_2.pth', work / 'run'


def assert_png(path):
    assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    with Image.open(path) as image:
        assert image.width > 100 and image.height > 100


def test_monitors_log_their_scalars(tiny_run):
    _, checkpoint, work = tiny_run
    rows = [json.loads(line) for p in work.glob('*/vis_data/scalars.json') for line in p.open()]
    knn = [r for r in rows if 'knn_mAP' in r]
    # Before training and after each of the 2 epochs (10 iterations of 8 images each).
    assert [r['step'] for r in knn] == [0, 10, 20]
    assert all(0 < r['knn_mAP'] <= 100 for r in knn)
    precision = [r for r in rows if 'pl_precision' in r]
    # Every 2 iterations once the queue has known slots (the first step has none).
    assert [r['step'] for r in precision] == list(range(2, 21, 2))
    for r in precision:
        assert 0 <= r['pl_precision'] <= 1 and 0 < r['pl_precision_random'] < 1
    # The identity of each queue slot is saved with the run, for an exact resume.
    ckpt = torch.load(checkpoint, map_location='cpu', weights_only=True)
    ids = ckpt['pseudo_label_slot_ids']
    assert ids.shape == (32,) and (ids >= 0).all() and ids.max() < 80


def test_visualize_pseudo_labels(repo_root, tiny_run, tmp_path):
    config, checkpoint, _ = tiny_run
    out = run(
        repo_root,
        'tools/analysis/visualize_pseudo_labels.py',
        config,
        checkpoint,
        '--out-dir',
        tmp_path,
        '--num-queries',
        3,
        '--queue-size',
        16,
    ).stdout
    assert 'precision of the shown pseudo-positives' in out
    assert_png(tmp_path / 'pseudo_labels.png')


def test_plot_score_distribution(repo_root, tiny_run, tmp_path):
    config, checkpoint, _ = tiny_run
    out = run(
        repo_root,
        'tools/analysis/plot_score_distribution.py',
        config,
        checkpoint,
        '--out',
        tmp_path / 'scores.png',
        '--num-queries',
        12,
    ).stdout
    # The top-k by g are, by construction, the highest g scores: their mean is above the mean.
    line = next(line for line in out.splitlines() if line.startswith('backbone'))
    every, top = (float(w) for w in line.replace(',', ' ').split() if w.replace('.', '').isdigit())
    assert top > every
    assert_png(tmp_path / 'scores.png')


def test_plot_training_curves_and_summary(repo_root, tiny_run, tmp_path):
    _, _, work = tiny_run
    run(
        repo_root, 'tools/analysis/plot_training_curves.py', work, work, '--out', tmp_path / 'c.png'
    )
    assert_png(tmp_path / 'c.png')
    out = run(repo_root, 'tools/analysis/summarize_run.py', work).stdout
    assert 'kNN multi-label mAP' in out and 'pseudo-label precision' in out
    missing = run(
        repo_root,
        'tools/analysis/plot_training_curves.py',
        tmp_path,
        '--out',
        tmp_path / 'x.png',
        check=False,
    )
    assert missing.returncode != 0 and str(tmp_path) in missing.stderr


def test_analysis_needs_a_coco_json(repo_root, tiny_run, tmp_path):
    config, checkpoint, _ = tiny_run
    broken = tmp_path / 'no_json.py'
    broken.write_text(f"_base_ = '{config}'\ntrain_dataloader = dict(dataset=dict(ann_file=''))\n")
    result = run(
        repo_root,
        'tools/analysis/plot_score_distribution.py',
        broken,
        checkpoint,
        '--out',
        tmp_path / 's.png',
        check=False,
    )
    assert result.returncode != 0 and 'train_dataloader.dataset.ann_file' in result.stderr
