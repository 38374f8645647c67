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


def test_bce_summarised_from_where_the_warmup_switches_it_on(repo_root, tmp_path):
    vis = tmp_path / 'run' / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    # BCEWarmupHook begin = end = step 11: loss_ml logged as 0 with ml_scale 0 before.
    records = [
        dict(loss_nce=6.0, loss_ml=0.0 if step <= 10 else 0.5 - step / 100,
             ml_scale=0.0 if step <= 10 else 1.0, step=step)
        for step in range(1, 31)
    ]  # fmt: skip
    vis.joinpath('scalars.json').write_text('\n'.join(json.dumps(r) for r in records))
    out = summarize(repo_root, tmp_path / 'run')
    # 20 values from step 11: first / last 2 are (0.39 + 0.38) / 2 and (0.21 + 0.20) / 2.
    assert 'loss_ml: 0.385 -> 0.205 (first / last 10% of the log, on from iter 11)' in out
    for record in records:
        record['ml_scale'] = 0.0
    vis.joinpath('scalars.json').write_text('\n'.join(json.dumps(r) for r in records))
    assert 'loss_ml: never on' in summarize(repo_root, tmp_path / 'run')


def test_missing_scalars_names_the_folder(repo_root, tmp_path):
    script = repo_root / 'tools/analysis/summarize_run.py'
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert f'no */vis_data/scalars.json under {tmp_path}' in result.stderr


def write_run(root, records, queue_length=512):
    vis = root / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    vis.joinpath('scalars.json').write_text('\n'.join(json.dumps(r) for r in records))
    vis.joinpath('config.py').write_text(
        'model = dict(\n    head=dict(topk=3),\n    memory=dict(banks=dict(g=256, z=128), '
        f"length={queue_length}, type='QueueMemory'),\n    type='MLS')\n"
    )
    return root


def summarize(repo_root, run):
    script = repo_root / 'tools/analysis/summarize_run.py'
    return subprocess.run(
        [sys.executable, str(script), str(run)], capture_output=True, text=True, check=True
    ).stdout


def health(step, erank, cos, nce):
    return dict(
        loss_nce=nce,
        loss_ml=0.2,
        z_queue_cos=cos,
        queue_mean_norm=0.5,
        z_align=-0.3,
        queue_erank=erank,
        step=step,
    )


def test_verdict_collapsed_and_stopped(repo_root, tmp_path):
    records = [dict(knn_mAP=9.3, step=0)]
    records += [health(s, erank=30 - s, cos=0.1, nce=6.0) for s in range(1, 29)]
    records.append(dict(knn_mAP=8.9, step=28))
    out = summarize(repo_root, write_run(tmp_path / 'run', records))
    assert 'COLLAPSED: the queue of projections spans 3.0 effective dimensions' not in out
    assert 'COLLAPSED: the queue of projections spans 2.5 effective dimensions' in out
    assert 'STOPPED LEARNING: the kNN mAP ended at 8.90, not above its start 9.30' in out
    # ln(513) = 6.24: a loss of 6.0 is within 0.5 nat of it.
    assert 'STOPPED LEARNING: loss_nce ended at 6.00, within 0.5 of ln(D + 1) = 6.24' in out
    assert 'LEARNED' not in out


def test_verdict_learned(repo_root, tmp_path):
    records = [dict(knn_mAP=9.3, step=0)]
    records += [health(s, erank=20.0, cos=0.1, nce=4.2) for s in range(1, 21)]
    records.append(dict(knn_mAP=12.3, step=20))
    out = summarize(repo_root, write_run(tmp_path / 'run', records))
    assert 'LEARNED: kNN mAP 9.30 -> 12.30 (+3.00), 2.04 nat below ln(D + 1), no collapse' in out
    assert 'COLLAPSED' not in out and 'STOPPED' not in out


def test_pseudo_label_verdict(repo_root, tmp_path):
    def precision(step, top, random):
        return dict(pl_precision=top, pl_precision_random=random, pl_self_share=0.0, step=step)

    early = [precision(s, 0.9, 0.2) for s in range(1, 4)]  # outside the last 5: not counted
    above = early + [precision(s, 0.3 + s / 100, 0.2) for s in range(4, 9)]
    out = summarize(repo_root, write_run(tmp_path / 'above', above))
    # Mean of 0.34 .. 0.38 = 0.36 against 0.20.
    assert 'PSEUDO-LABELS ABOVE CHANCE: precision 0.360 against 0.200' in out
    # Differences 0.14 .. 0.18: sample std 0.0158, 2 s.e. = 2 x 0.0158 / sqrt(5) = 0.014.
    assert '(+0.160 +- 0.014 (2 s.e.);' in out
    assert 'multi-label targets carry category information' in out
    at = [precision(s, 0.22, 0.2) for s in range(1, 6)]
    out = summarize(repo_root, write_run(tmp_path / 'at', at))
    assert 'PSEUDO-LABELS AT CHANCE: precision 0.220 against 0.200 for random queue entries' in out
    assert 'carry (almost) no category information' in out and 'what learned is InfoNCE' in out
