"""tools/analysis/summarize_run.py on a hand-written scalars.json."""

import json
import subprocess
import sys


def test_summary_numbers(repo_root, tmp_path):
    vis = tmp_path / 'run' / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    records = [dict(knn_mAP=40.0, step=0)]
    for step in range(1, 21):
        records.append(dict(loss_nce=10.0 - step / 4, loss_ml=1.0, iter=step, step=step))
        if step % 4 == 0:
            records.append(
                dict(
                    pl_precision=0.5 + step / 100,
                    pl_precision_random=0.3,
                    pl_self_share=0.1,
                    step=step,
                )
            )
    records.append(dict(knn_mAP=55.5, step=20))
    vis.joinpath('scalars.json').write_text('\n'.join(json.dumps(r) for r in records))
    script = repo_root / 'tools/analysis/summarize_run.py'
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path / 'run')],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert 'iterations: 20' in out
    # First / last 2 of 20 values: (9.75 + 9.5) / 2 and (5.25 + 5.0) / 2.
    assert 'loss_nce: 9.625 -> 5.125' in out
    assert 'kNN multi-label mAP: 40.00 at iter 0 -> 55.50 at iter 20' in out
    # Mean of the 5 measurements at steps 4..20: 0.5 + 0.12 = 0.62.
    assert 'pseudo-label precision: 0.620' in out and '0.300 for random' in out


def test_missing_scalars_names_the_folder(repo_root, tmp_path):
    script = repo_root / 'tools/analysis/summarize_run.py'
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert f'no */vis_data/scalars.json under {tmp_path}' in result.stderr
