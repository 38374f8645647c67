"""tools/analysis/compare_pretraining.py end to end on a few iterations of real photos."""

import copy
import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_comparison_runs_end_to_end(repo_root, coco_scenes, tmp_path):
    out = tmp_path / 'study'
    table = tmp_path / 'table.md'
    cmd = [
        sys.executable,
        str(repo_root / 'tools/analysis/compare_pretraining.py'),
        '--datasets', 'coco_scenes',
        '--methods', 'mls', 'infonce', 'random_init',
        '--seeds', '0', '1',
        '--data-root', str(coco_scenes.parent),
        '--epochs', '1',
        '--bce-warmup', '1', '1',
        '--tag', 'mls_warmup',
        '--min-positives', '2',
        '--out-dir', str(out),
        '--markdown', str(table),
        '--cfg-options',
        'train_dataloader.dataset.indices=64',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'knn_dataloader.dataset.indices=96',
        'knn_val_dataloader.dataset.indices=64',
        'model.memory.length=64',
        'default_hooks.logger.interval=1',
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    runs = {
        (r['variant'], r['seed']): r
        for r in (json.loads(p.read_text()) for p in out.glob('coco_scenes/*/seed*/result.json'))
    }
    assert set(runs) == {(v, s) for v in ('mls_warmup', 'infonce', 'random_init') for s in (0, 1)}
    mls, infonce = runs['mls_warmup', 0], runs['infonce', 0]
    for run in (mls, infonce, runs['random_init', 0]):
        assert 0 < run['knn_map'] <= 100 and 0 < run['linear_map'] <= 100
        assert 0 <= run['pl_precision'] <= 1 and run['num_classes'] > 0
    assert mls['iterations'] == infonce['iterations'] == 2
    assert 'loss_ml_last' in mls and 'loss_ml_last' not in infonce
    assert -1 <= mls['z_queue_cos'] <= 1 and 1 <= mls['queue_erank'] <= 128
    assert mls['loss_ml_first'] == 0.0  # the warm-up kept the BCE off for the whole epoch
    assert runs['random_init', 0]['knn_map'] != runs['random_init', 1]['knn_map']  # seeded init
    config = (out / 'coco_scenes/mls_warmup/seed0/config.py').read_text()
    assert 'BCEWarmupHook' in config
    assert 'BCEWarmupHook' not in (out / 'coco_scenes/infonce/seed0/config.py').read_text()
    text = table.read_text()
    assert '| coco_scenes | mls_warmup | 0,1 |' in text and ' +- ' in text

    # A second call finds every result and trains nothing.
    again = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and 'pretraining' not in again.stdout


@pytest.mark.slow
def test_oracle_positives_train_from_the_lab(repo_root, coco_scenes, tmp_path):
    """The oracle run imports the lab by its config: OracleLabeler fed by OraclePseudoLabelHook."""
    out = tmp_path / 'study'
    cmd = [
        sys.executable,
        str(repo_root / 'tools/analysis/compare_pretraining.py'),
        '--datasets', 'coco_scenes',
        '--methods', 'oracle_positives',
        '--seeds', '0',
        '--data-root', str(coco_scenes.parent),
        '--epochs', '2',
        '--bce-warmup', '0', '0',
        '--min-positives', '2',
        '--out-dir', str(out),
        '--cfg-options',
        'train_dataloader.dataset.indices=64',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'knn_dataloader.dataset.indices=96',
        'knn_val_dataloader.dataset.indices=64',
        'model.memory.length=64',
        'default_hooks.logger.interval=1',
        'custom_hooks.3.interval=1',  # the oracle hook (in the precision hook's place): every step
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (result,) = out.glob('coco_scenes/oracle_positives/seed0/result.json')
    run = json.loads(result.read_text())
    assert run['iterations'] == 4 and run['loss_ml_last'] > 0  # the BCE on the oracle's labels
    # Every pseudo-positive the labeler gave in training shares a category with its query.
    assert run['train_pl_precision'] == 1.0 > run['train_pl_precision_random']
    config = (result.parent / 'config.py').read_text()
    assert "'mls_plugin.analysis'" in config and 'OracleLabeler' in config
    assert 'OraclePseudoLabelHook' in config


@pytest.fixture
def compare(repo_root):
    sys.path.insert(0, str(repo_root / 'tools/analysis'))
    import compare_pretraining

    yield compare_pretraining
    sys.path.remove(str(repo_root / 'tools/analysis'))


def test_each_positives_variant_changes_only_the_positives(compare, repo_root, coco_scenes):
    """The named methods of the BCE ablation: the same config but the head's labeler (or, for
    the oracle, the precision hook that feeds it the labels)."""
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    from mls_plugin.analysis import OracleLabeler
    from mls_plugin.models import NoPositivesLabeler, RandomLabeler, TopKLabeler

    argv = sys.argv
    sys.argv = [
        'compare_pretraining.py',
        '--config',
        'configs/mls/small_scale/mls_resnet18-centred-proj_1xb32-coslr-40e_coco-scenes-64px.py',
        '--data-root', str(coco_scenes.parent),
        '--bce-warmup', '0', '0',
    ]  # fmt: skip
    try:
        args = compare.parse_args()
    finally:
        sys.argv = argv
    base = compare.dataset_config('coco_scenes', args.data_root, args)
    configs = {m: compare.method_config(base, m, 3, args) for m in compare.METHODS}
    labelers = dict(
        mls=TopKLabeler,
        random_positives=RandomLabeler,
        no_positives=NoPositivesLabeler,
        oracle_positives=OracleLabeler,
    )
    for method, kind in labelers.items():
        head = MODELS.build(Config(configs[method].model.head).to_dict())
        assert type(head.labeler) is kind, method
        assert head.loss_ml is not None
    hooks = {m: [h['type'] for h in c.custom_hooks] for m, c in configs.items()}
    assert 'OraclePseudoLabelHook' in hooks['oracle_positives']
    assert 'PseudoLabelPrecisionHook' not in hooks['oracle_positives']
    assert 'mls_plugin.analysis' in configs['oracle_positives'].custom_imports['imports']
    assert configs['infonce'].model.head.loss_ml is None
    assert 'BCEWarmupHook' not in hooks['infonce']
    # Everything else is the same: model (but the head's labeler), data, schedule, seed.
    for method in ('mls', 'random_positives', 'no_positives', 'oracle_positives'):
        cfg = configs[method]
        assert cfg.randomness == dict(seed=3)
        assert cfg.train_dataloader == configs['mls'].train_dataloader
        assert cfg.optim_wrapper == configs['mls'].optim_wrapper
        model = copy.deepcopy(cfg.model.to_dict())
        model['head'].pop('labeler', None)
        reference = copy.deepcopy(configs['mls'].model.to_dict())
        reference['head'].pop('labeler', None)
        assert model == reference, method
