"""The monitors in a real run, then every analysis script on its checkpoint (PNG out)."""

import json
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.runner import Runner
from PIL import Image
from torch.utils.data import DataLoader, Subset

import mls_plugin  # noqa: F401  (the checkpoint allow-list)
from mls_plugin.analysis import (
    build_labelled_dataset,
    build_model,
    encode_key,
    encode_online,
    load_pretrained_model,
    momentum_encoder,
    rank_queue,
    training_crop_size,
)
from mls_plugin.evaluation import extract_features

CONFIG = """
_base_ = '{repo}/configs/mls/small_scale/mls_resnet18_1xb32-coslr-20e_demo-scenes-48px.py'
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


def test_rank_queue_leaves_out_the_query_image():
    gen = torch.Generator().manual_seed(0)
    queries, queue = torch.randn(5, 8, generator=gen), torch.randn(12, 8, generator=gen)
    queue[3] = 7 * queries[0]  # the query's own image in the queue: cosine 1, must be left out
    query_ids, queue_ids = torch.arange(100, 105), torch.arange(97, 109)
    scores, slots = rank_queue(queries, queue, 4, query_ids, queue_ids)
    for q in range(5):
        cosines = [
            (float(queries[q] @ queue[s] / (queries[q].norm() * queue[s].norm())), s)
            for s in range(12)
            if queue_ids[s] != query_ids[q]
        ]
        expected = sorted(cosines, reverse=True)[:4]
        assert slots[q].tolist() == [s for _, s in expected]
        assert scores[q].tolist() == pytest.approx([c for c, _ in expected], abs=1e-6)
    assert 3 not in slots[0].tolist()
    # Without ids nothing is left out: the scaled copy is the first entry.
    assert rank_queue(queries, queue, 1)[1][0].item() == 3
    with pytest.raises(ValueError, match='besides its own image'):
        rank_queue(queries[:1], queue[:4], 4, query_ids[:1], torch.tensor([100, 1, 2, 3]))


def test_labelled_dataset_reads_the_training_crop_and_needs_a_coco_json():
    view = dict(type='RandomResizedCrop', scale=(64, 64))
    pipeline = [dict(type='LoadImageFromFile'), dict(type='MultiView', transforms=[[view]])]
    cfg = Config(dict(train_dataloader=dict(dataset=dict(pipeline=pipeline))))
    assert training_crop_size(cfg) == 64
    assert training_crop_size(Config(dict(train_dataloader=dict(dataset=dict())))) == 224
    cfg = Config(dict(train_dataloader=dict(dataset=dict(ann_file='meta/train.txt'))))
    with pytest.raises(ValueError, match=r'train_dataloader\.dataset\.ann_file.*--ann-file'):
        build_labelled_dataset(cfg)


@pytest.mark.slow
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


@pytest.mark.slow
def test_encoders_match_the_feature_extractor(tiny_run):
    config, checkpoint, _ = tiny_run
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_pretrained_model(str(config), str(checkpoint.parent / 'missing.pth'))
    cfg, model = load_pretrained_model(str(config), str(checkpoint))
    dataset = build_labelled_dataset(cfg)
    assert len(dataset) == 80 and dataset[0]['inputs'].shape == (3, 48, 48)  # the training crop
    ids = [5, 0, 42]
    loader = DataLoader(Subset(dataset, ids), batch_size=3, collate_fn=default_collate)
    for encode, (backbone, neck) in (
        (encode_online, (model.backbone, model.neck)),
        (encode_key, momentum_encoder(model)),
    ):
        g, z = encode(model, dataset, ids, batch_size=2)
        expected_g, _ = extract_features(
            model, loader, len(dataset.metainfo['classes']), backbone=backbone
        )
        torch.testing.assert_close(g, expected_g, rtol=1e-4, atol=1e-5)
        with torch.no_grad():
            torch.testing.assert_close(z, F.normalize(neck((expected_g,))[0], dim=1))
    # After 20 EMA steps the two branches differ: the key features are not the online ones.
    assert not torch.allclose(
        encode_online(model, dataset, ids)[0], encode_key(model, dataset, ids)[0]
    )


@pytest.mark.slow
def test_visualize_pseudo_labels(repo_root, tiny_run, coco_tiny, tmp_path):
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
        # The held-out images, named explicitly instead of the config's training json.
        '--ann-file',
        coco_tiny / 'annotations/instances_val2017.json',
        '--data-prefix',
        coco_tiny / 'images/val2017',
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith('precision of the shown'))
    assert 0 <= float(line.split(': ')[1].split()[0]) <= 1
    assert 'of 12 share a category' in line  # 3 queries x the head's top-4
    assert_png(tmp_path / 'pseudo_labels.png')


@pytest.mark.slow
def test_plot_score_distribution(repo_root, tiny_run, tmp_path):
    config, checkpoint, _ = tiny_run
    out = run(
        repo_root,
        'tools/analysis/plot_score_distribution.py',
        config,
        checkpoint,
        '--out',
        tmp_path / 'figs' / 'scores.png',
        '--num-queries',
        12,
    ).stdout
    # The top-k by g are, by construction, the highest g scores: their mean is above the mean.
    line = next(line for line in out.splitlines() if line.startswith('backbone'))
    every, top = (float(w) for w in line.replace(',', ' ').split() if w.replace('.', '').isdigit())
    assert top > every
    assert any(line.startswith('projection') for line in out.splitlines())
    assert_png(tmp_path / 'figs' / 'scores.png')


@pytest.mark.slow
def test_plot_training_curves_and_summary(repo_root, tiny_run, tmp_path):
    _, _, work = tiny_run
    scalars = next(work.glob('*/vis_data/scalars.json'))
    out = tmp_path / 'c.png'
    run(repo_root, 'tools/analysis/plot_training_curves.py', work, scalars, '--out', out)
    assert_png(out)
    summary = run(repo_root, 'tools/analysis/summarize_run.py', work).stdout
    assert 'kNN multi-label mAP' in summary and 'pseudo-label precision' in summary
    missing = run(
        repo_root,
        'tools/analysis/plot_training_curves.py',
        tmp_path,
        '--out',
        tmp_path / 'x.png',
        check=False,
    )
    assert missing.returncode != 0 and str(tmp_path) in missing.stderr


@pytest.mark.slow
def test_supervised_ceiling_starts_where_the_knn_hook_starts_and_fits_the_labels(
    repo_root, tiny_run, tmp_path
):
    config, _, work = tiny_run
    rows = [json.loads(line) for p in work.glob('*/vis_data/scalars.json') for line in p.open()]
    hook_start = next(r['knn_mAP'] for r in rows if 'knn_mAP' in r and r['step'] == 0)
    out = tmp_path / 'ceiling.json'
    run(repo_root, 'tools/analysis/supervised_ceiling.py', config, '--steps', 40,
        '--evals', 2, '--optimizer', 'adamw', '--out', out)  # fmt: skip
    result = json.loads(out.read_text())
    # Step 0 is the untrained network that pretraining starts from, measured as the hook does.
    assert result['curve'][0]['step'] == 0
    assert result['curve'][0]['knn_map'] == pytest.approx(hook_start, abs=1e-3)
    # With the labels the training loss falls (80 images, 40 steps of the run's batch of 8).
    first, last = result['curve'][1]['loss'], result['curve'][-1]['loss']
    assert [p['step'] for p in result['curve']] == [0, 20, 40]
    assert last < first
    # Step 0's pseudo-label precision, brute force: each bank image's 4 (head.topk) nearest
    # other bank images by cosine, and whether they share a category with it.
    cfg = Config.fromfile(config)
    model = build_model(cfg)  # the seeded initialisation; also sets mmpretrain's scope
    bank = Runner.build_dataloader(cfg.knn_dataloader, seed=0)
    feats, labels = extract_features(model, bank, len(bank.dataset.metainfo['classes']))
    feats = F.normalize(feats, dim=1)
    hits = pairs = random_hits = random_pairs = 0
    for i in range(len(feats)):
        if labels[i].sum() == 0:
            continue
        others = [j for j in range(len(feats)) if j != i]
        nearest = sorted(others, key=lambda j: -float(feats[i] @ feats[j]))[:4]
        hits += sum(bool((labels[i] * labels[j]).sum() > 0) for j in nearest)
        random_hits += sum(bool((labels[i] * labels[j]).sum() > 0) for j in others)
        pairs, random_pairs = pairs + 4, random_pairs + len(others)
    assert result['topk'] == 4
    assert result['curve'][0]['pl_precision'] == pytest.approx(hits / pairs, abs=1e-6)
    assert result['curve'][0]['pl_precision_random'] == pytest.approx(
        random_hits / random_pairs, abs=1e-6
    )
    assert all(0 <= p['pl_precision'] <= 1 for p in result['curve'])
    bad = run(repo_root, 'tools/analysis/supervised_ceiling.py', repo_root / 'configs/mls/'
              'mls_resnet50_8xb32-coslr-800e_coco.py', check=False)  # fmt: skip
    assert bad.returncode != 0 and 'knn_dataloader' in bad.stderr
