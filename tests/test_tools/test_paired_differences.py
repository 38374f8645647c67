"""tools/analysis/paired_differences.py: pairing by seed, the t-interval, one verdict rule."""

import json
import subprocess
import sys

import pytest


@pytest.fixture
def tool(repo_root):
    sys.path.insert(0, str(repo_root / 'tools/analysis'))
    import paired_differences

    yield paired_differences
    sys.path.remove(str(repo_root / 'tools/analysis'))


def write(folder, variant, seed, knn):
    run = folder / 'coco_scenes' / variant / f'seed{seed}'
    run.mkdir(parents=True)
    result = dict(dataset='coco_scenes', variant=variant, seed=seed, knn_map=knn)
    (run / 'result.json').write_text(json.dumps(result))


def test_interval_against_a_hand_computation(tool):
    # mean 2, sample std 1, t(0.975, 2) = 4.302653: half-width 4.302653 / sqrt(3) = 2.484138
    low, high = tool.t_interval([1.0, 2.0, 3.0])
    assert (low, high) == pytest.approx((2 - 2.484138, 2 + 2.484138), abs=1e-6)
    assert tool.verdict((low, high)) == 'no difference'
    assert tool.verdict(tool.t_interval([0.9, 1.0, 1.1])) == 'ahead'  # [0.75, 1.25]
    assert tool.verdict(tool.t_interval([-0.9, -1.0, -1.1])) == 'behind'
    assert tool.t_interval([1.0]) is None and tool.verdict(None) == 'one seed: no interval'


def test_pairs_by_seed_and_prints_every_seed(tool, repo_root, tmp_path):
    for seed, (base, mls) in zip((3, 4, 5), ((10.0, 10.5), (11.0, 11.4), (12.0, 12.6))):
        write(tmp_path, 'infonce', seed, base)
        write(tmp_path, 'mls', seed, mls)
    write(tmp_path, 'random_positives', 3, 9.0)  # one seed only: paired, no interval
    rows = {r['variant']: r for r in tool.paired_table(tool.load(tmp_path), 'infonce', 'knn_map')}
    assert rows['mls']['diffs'] == pytest.approx([0.5, 0.4, 0.6])
    assert rows['random_positives']['diffs'] == pytest.approx([-1.0])
    out = subprocess.run(
        [sys.executable, str(repo_root / 'tools/analysis/paired_differences.py'), str(tmp_path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    mls_row = next(line for line in out.splitlines() if '| mls |' in line)
    # mean 0.5, std 0.1, interval 0.5 +- 0.2484: ahead
    assert '+0.50 (+0.50 / +0.40 / +0.60)' in mls_row and '[+0.25, +0.75]' in mls_row
    assert mls_row.endswith('| ahead |')
    assert '11.50 +- 1.05 (10.50 / 11.40 / 12.60)' in mls_row
    assert 'one seed: no interval' in out
