"""tools/analysis/collect_downstream.py: downstream runs into result.json files and tables."""

import json
import subprocess
import sys


def _scalars(path, ap, ap50):
    path.mkdir(parents=True)
    rows = [
        {'loss': 1.0, 'step': 400},
        {'coco/bbox_mAP': ap, 'coco/bbox_mAP_50': ap50, 'step': 0},
    ]
    (path / 'scalars.json').write_text('\n'.join(json.dumps(r) for r in rows) + '\n')


def test_runs_become_paired_tables_with_the_verdict_of_their_numbers(repo_root, tmp_path):
    det, svm, out = tmp_path / 'det', tmp_path / 'svm', tmp_path / 'out'
    aps = {'mls': (0.010, 0.012), 'infonce': (0.008, 0.013), 'random': (0.001, 0.002)}
    for variant, (a, b) in aps.items():
        for seed, ap in ((101, a), (102, b)):
            _scalars(det / variant / f'seed{seed}' / '20261207_000000' / 'vis_data', ap, 3 * ap)
    svm.mkdir()
    for variant, maps in {'mls': (16.0, 17.0), 'infonce': (15.0, 16.5), 'random': (9, 9.5)}.items():
        for seed, value in zip((3, 4), maps):
            run = {'mAP': value, 'classes': {'cat': {}, 'dog': {}}}
            (svm / f'{variant}_seed{seed}_224px.json').write_text(json.dumps(run))
    md = tmp_path / 'paired.md'
    cmd = [
        sys.executable,
        str(repo_root / 'tools/analysis/collect_downstream.py'),
        *('--det-root', str(det), '--svm-root', str(svm), '--out', str(out)),
        *('--markdown', str(md)),
    ]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    result = json.loads((out / 'det' / 'mls' / 'seed102' / 'result.json').read_text())
    assert result['det_bbox_map'] == 1.2 and result['det_bbox_map50'] == 3.6000000000000005
    assert result['variant'] == 'mls' and result['seed'] == 102
    result = json.loads((out / 'svm_224px' / 'random' / 'seed4' / 'result.json').read_text())
    assert result['svm_map'] == 9.5 and result['svm_classes'] == ['cat', 'dog']
    text = md.read_text()
    vs_infonce, vs_random = text.split('## Paired to random')
    # MLS - InfoNCE box AP: +0.2 and -0.1 -> mean +0.05, the interval contains 0.
    assert (
        '| voc_animals | mls | 101,102 | 1.10 +- 0.14 (1.00 / 1.20) | +0.05 (+0.20 / -0.10) |'
        in (vs_infonce)
    )
    assert 'no difference' in vs_infonce.split('### detection box AP50')[0]
    # MLS - random SVM: +7.0 and +7.5 -> ahead.
    svm_rows = [r for r in vs_random.splitlines() if r.startswith('| voc_animals 224 px | mls')]
    assert svm_rows and svm_rows[0].endswith('| ahead |')
