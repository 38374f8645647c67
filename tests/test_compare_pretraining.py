"""tools/analysis/compare_pretraining.py end to end on a few iterations of real photos."""

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
