"""The VOC07 SVM protocol: its AP, the per-class cost choice, and the tool end to end.

The end-to-end test runs ``tools/benchmarks/svm_voc07.py`` on real VOC2012 photos
(``voc_animals``, standing in for VOC07) with a tiny ResNet-18 loaded through CheckedPretrained.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mls_plugin.benchmarks.svm_voc07 import (
    LINEAGE_COSTS,
    extract_svm_features,
    fit_class_svm,
    svm_voc07,
    voc_ap,
)

SVM_CFG = 'configs/benchmarks/classification/svm_resnet50_voc07.py'

# ----------------------------------------------------------------------------- AP


def test_voc_ap_by_hand():
    # Ranked: + - + (difficult, left out) - +. Precision at ranks 1..5: 1, 1/2, 2/3, 2/4, 3/5;
    # recall: 1/3, 1/3, 2/3, 2/3, 1.
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    labels = [1, 0, 1, -1, 0, 1]
    # All-point: recall steps of 1/3 at precision envelopes 1, 2/3, 3/5.
    assert voc_ap(scores, labels) == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)  # 34/45
    # 11-point: thresholds 0-0.3 -> 1 (4 of them), 0.4-0.6 -> 2/3 (3), 0.7-1 -> 3/5 (4).
    assert voc_ap(scores, labels, eleven_point=True) == pytest.approx((4 + 2 + 2.4) / 11)
    # Input order does not matter, only the ranking.
    order = [3, 0, 5, 1, 4, 2]
    assert voc_ap([scores[i] for i in order], [labels[i] for i in order]) == pytest.approx(34 / 45)


def test_voc_ap_interpolates_and_ignores_difficult():
    # - + +: precision 0, 1/2, 2/3. Interpolated, both recall steps get 2/3 (the
    # non-interpolated AP of mmpretrain / scikit-learn would be (1/2 + 2/3) / 2 = 7/12).
    assert voc_ap([3, 2, 1], [0, 1, 1]) == pytest.approx(2 / 3)
    assert voc_ap([3, 2, 1], [0, 1, 1], eleven_point=True) == pytest.approx(2 / 3)
    assert voc_ap([3, 2, 1], [-1, 1, 1]) == 1.0  # the top negative was difficult
    # 11-point tolerance: 3 hits of 10 reach recall 0.3 (0.1 * 3 is 0.30000000000000004).
    labels = [1] * 3 + [0] * 3 + [1] * 7
    scores = -np.arange(len(labels))
    # precision rises from 4/7 to 10/13 after the gap: thresholds 0.4 ... 1 all get 10/13
    expected = (4 * 1 + 7 * 10 / 13) / 11
    assert voc_ap(scores, labels, eleven_point=True) == pytest.approx(expected)
    assert voc_ap([1, 2], [1, 1]) == 1.0
    with pytest.raises(ValueError, match='no positive'):
        voc_ap([1, 2, 3], [0, -1, 0])


# ----------------------------------------------------------------------------- SVMs


def separable_problem(seed: int = 0, n: int = 90):
    """Separable along x0 (margin 1), while the class means differ mostly along noisy x1.

    A tiny cost ranks by the weighted mean difference (mostly x1): poor AP. A large cost finds
    the max-margin direction x0: AP 1.
    """
    rng = np.random.default_rng(seed)
    y = np.where(np.arange(n) % 3 == 0, 1, -1)
    x0 = y * rng.uniform(0.5, 1.5, n)
    x1 = 2.0 * y + rng.normal(0, 10, n)
    return np.stack([x0, x1], axis=1), y


def test_fit_class_svm_picks_the_best_cv_cost_and_separates():
    from sklearn.metrics import average_precision_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import LinearSVC

    from mls_plugin.benchmarks.svm_voc07 import SVM_KWARGS

    x, y = separable_problem()
    costs = [1e-5, 10.0]
    fit = fit_class_svm(x, y, costs, folds=3)
    # The CV AP, recomputed by hand: the same folds, the lineage's LinearSVC and scorer.
    for cost in costs:
        aps = []
        for train, val in StratifiedKFold(3).split(x, y):
            svm = LinearSVC(C=cost, random_state=0, **SVM_KWARGS).fit(x[train], y[train])
            aps.append(average_precision_score(y[val], svm.decision_function(x[val])))
        assert fit.cv_ap[cost] == pytest.approx(np.mean(aps))
    assert fit.cv_ap[10.0] > 0.99 > 0.8 > fit.cv_ap[1e-5]
    assert fit.cost == 10.0 == max(costs, key=fit.cv_ap.get)
    assert isinstance(fit.svm, LinearSVC) and fit.svm.C == 10.0
    assert (np.sign(fit.svm.decision_function(x)) == y).all()
    x_new, y_new = separable_problem(seed=1)
    assert (np.sign(fit.svm.decision_function(x_new)) == y_new).all()
    # Reversed cost order: the same choice.
    assert fit_class_svm(x, y, costs[::-1], folds=3).cost == 10.0


def test_svm_voc07_trains_difficult_as_negative_and_skips_thin_classes():
    x, y = separable_problem(n=60)
    labels = np.zeros((60, 3), dtype=np.int8)
    labels[:, 0] = y == 1
    labels[:2, 1] = 1  # 2 positives < 3 folds: skipped
    labels[:, 2] = y == 1
    labels[y == -1, 2] = -1  # difficult: negatives for training, ignored at test
    test_labels = labels.copy()
    result = svm_voc07(
        torch.tensor(x),
        torch.tensor(labels),
        torch.tensor(x),
        torch.tensor(test_labels),
        classes=['a', 'b', 'c'],
        costs=[10.0],
        folds=3,
    )
    assert set(result['classes']) == {'a', 'c'} and list(result['skipped']) == ['b']
    assert '2 positives' in result['skipped']['b']
    a, c = result['classes']['a'], result['classes']['c']
    assert a['ap'] == pytest.approx(100.0) and a['cost'] == 10.0
    assert c['ap'] == 100.0  # only positives are scored
    assert c['cv_ap'] == a['cv_ap']  # the same training targets
    assert result['mAP'] == pytest.approx((a['ap'] + c['ap']) / 2)
    assert 0 <= result['mAP_11point'] <= 100
    assert len(LINEAGE_COSTS) == 19 and LINEAGE_COSTS[:3] == (1.0, 10.0, 100.0)


def test_lineage_pool_is_a_6x6_window_at_stride_1_on_the_7x7_map():
    from mls_plugin.benchmarks.svm_voc07 import pool_res5

    feat = torch.arange(2 * 3 * 49, dtype=torch.float64).reshape(2, 3, 7, 7)
    out = pool_res5(feat, 'lineage')
    assert out.shape == (2, 3 * 4)  # 2048 x 4 = 8192 for a ResNet-50
    for n in range(2):
        for c in range(3):
            windows = [feat[n, c, i : i + 6, j : j + 6].mean() for i in (0, 1) for j in (0, 1)]
            assert out[n, c * 4 : c * 4 + 4].tolist() == pytest.approx([float(w) for w in windows])
    with pytest.raises(ValueError, match="224 x 224 or set svm.pool='adaptive'"):
        pool_res5(torch.zeros(1, 3, 8, 8), 'lineage')
    adaptive = pool_res5(torch.zeros(1, 3, 8, 8), 'adaptive')  # the earlier choice, any size
    assert adaptive.shape == (1, 12)
    with pytest.raises(ValueError, match='pool'):
        pool_res5(feat, 'max')


def test_svm_config_resizes_the_whole_image_as_the_lineage(repo_root, tmp_path):
    """Short side to 256, then the whole image to 224 x 224 (no crop), against cv2 by hand."""
    import cv2
    import numpy as np
    from mmengine.config import Config
    from mmpretrain.registry import TRANSFORMS

    cfg = Config.fromfile(
        str(repo_root / 'configs/benchmarks/classification/svm_resnet50_voc07.py')
    )
    assert cfg.svm.pool == 'lineage'
    steps = [TRANSFORMS.build(t) for t in cfg.test_pipeline[1:-1]]
    img = np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)  # H x W
    results = dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])
    for step in steps:
        results = step(results)
    by_hand = cv2.resize(cv2.resize(img, (341, 256), interpolation=cv2.INTER_LINEAR), (224, 224))
    assert results['img'].shape == (224, 224, 3)
    assert np.abs(results['img'].astype(int) - by_hand.astype(int)).max() <= 1


def test_extract_svm_features_pools_normalises_and_reads_difficult():
    from mmpretrain.models import ClsDataPreprocessor
    from mmpretrain.structures import DataSample

    class Backbone(torch.nn.Module):
        def forward(self, x):
            return (x[:, :3] * 5.0,)

    model = torch.nn.Module()
    model.data_preprocessor = ClsDataPreprocessor()
    model.backbone = Backbone()
    samples = [
        DataSample(metainfo=dict(gt_label_difficult=[2, 0])).set_gt_label([0, 1]),
        DataSample().set_gt_label([3]),
    ]
    batch = dict(inputs=torch.rand(2, 3, 8, 8) * 255, data_samples=samples)
    feats, labels = extract_svm_features(model, [batch], num_classes=4, pool='adaptive')
    assert feats.shape == (2, 3 * 4) and feats.dtype == torch.float32
    assert torch.allclose(feats.norm(dim=1), torch.ones(2), atol=1e-4)
    # present beats difficult (class 0 has both); class 2 is difficult only
    assert labels.tolist() == [[1, 1, -1, 0], [0, 0, 0, 1]]


# ----------------------------------------------------------------------------- end to end


@pytest.fixture(scope='module')
def voc_animals(repo_root) -> Path:
    shared = Path(os.environ.get('MLS_SHARED_DATA', repo_root.parent / 'shared' / 'data'))
    root = shared / 'voc_animals'
    if not (root / 'annotations' / 'instances_train.json').is_file():
        pytest.fail(f'voc_animals not found at {root}; set MLS_SHARED_DATA')
    return root


TINY_CONFIG = """
_base_ = [{base!r}]
model = dict(backbone=dict(depth=18, base_channels=16, stem_channels=16))
pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=73, edge='short'),
    dict(type='CenterCrop', crop_size=64),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'gt_label_difficult')),
]
train_dataloader = dict(
    batch_size=40,
    num_workers=0,
    dataset=dict(
        _delete_=True, type='CocoMultiLabelDataset', data_root={root!r},
        ann_file='annotations/instances_train.json', data_prefix='images/train/',
        indices=120, pipeline=pipeline,
    ),
)
test_dataloader = dict(
    batch_size=40,
    num_workers=0,
    dataset=dict(
        _delete_=True, type='CocoMultiLabelDataset', data_root={root!r},
        ann_file='annotations/instances_val.json', data_prefix='images/val/',
        indices=80, pipeline=pipeline,
    ),
)
svm = dict(costs=[0.1, 10.0], folds=2, n_jobs=1, pool='adaptive')  # 64 px: a 2 x 2 res5 map
"""


def tiny_checkpoint(path: Path) -> Path:
    """A runner-style checkpoint of a random ResNet-18 (base 16), BN statistics of one batch."""
    from mmpretrain.models.backbones import ResNet

    with torch.random.fork_rng():
        torch.manual_seed(0)
        backbone = ResNet(depth=18, base_channels=16, stem_channels=16)
        for module in backbone.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.momentum = None
        backbone.train()
        with torch.no_grad():
            backbone(torch.randn(8, 3, 64, 64))
    state = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    torch.save({'meta': {'epoch': 1}, 'state_dict': state}, path)
    return path


def run_svm_tool(repo_root: Path, *args) -> subprocess.CompletedProcess:
    cmd = [sys.executable, 'tools/benchmarks/svm_voc07.py', *map(str, args)]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.slow
def test_svm_tool_end_to_end_on_real_voc_images(repo_root, voc_animals, tmp_path):
    config = tmp_path / 'svm_tiny.py'
    config.write_text(TINY_CONFIG.format(base=str(repo_root / SVM_CFG), root=str(voc_animals)))
    ckpt = tiny_checkpoint(tmp_path / 'r18.pth')
    out = tmp_path / 'result.json'
    res = run_svm_tool(repo_root, config, ckpt, '--out', out, '--device', 'cpu')
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-3000:]
    assert f'CheckedPretrained: ResNet <- {ckpt}' in log
    assert 'backbone.layer4.1.bn2.bias' in (tmp_path / 'result.log').read_text()  # init dump
    assert 'backbone.layer4.1.bn2.bias' not in log
    result = json.loads(out.read_text())
    assert (result['num_trainval'], result['num_test']) == (120, 80)
    assert result['feature_dim'] == 128 * 2 * 2  # res5 of ResNet-18 base 16, pooled 2x2
    assert result['protocol']['costs'] == [0.1, 10.0] and result['protocol']['folds'] == 2
    classes = result['classes']
    assert len(classes) + len(result['skipped']) == 20 and len(classes) >= 5
    assert {'dog', 'cat', 'person'} <= set(classes) and 'aeroplane' in result['skipped']
    for r in classes.values():
        assert 0 <= r['ap'] <= 100 and 0 <= r['ap_11point'] <= 100
        assert r['cost'] in (0.1, 10.0) and set(r['cv_ap']) == {'0.1', '10.0'}
        assert r['cost'] == float(max(r['cv_ap'], key=r['cv_ap'].get))
        assert r['trainval_positives'] >= 2 and r['test_positives'] >= 1
    assert 0 <= result['mAP'] <= 100 and 0 <= result['mAP_11point'] <= 100
    assert result['mAP'] == pytest.approx(np.mean([r['ap'] for r in classes.values()]))
    assert f'VOC07 SVM test mAP {result["mAP"]:.2f}' in res.stdout
    print(
        f'voc_animals tiny SVM: mAP {result["mAP"]:.2f} (11-point {result["mAP_11point"]:.2f}) '
        f'over {len(classes)} classes, {result["total_seconds"]} s'
    )


def svm_tool_and_config(repo_root: Path, voc_animals: Path, tmp_path: Path):
    """``tools/benchmarks/svm_voc07.py`` as a module, and the tiny voc_animals SVM config."""
    import importlib.util

    from mmengine.config import Config

    spec = importlib.util.spec_from_file_location(
        'svm_tool', repo_root / 'tools/benchmarks/svm_voc07.py'
    )
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    config = tmp_path / 'svm_tiny.py'
    config.write_text(TINY_CONFIG.format(base=str(repo_root / SVM_CFG), root=str(voc_animals)))
    return tool, Config.fromfile(str(config))


def test_svm_tool_refuses_a_wrong_checkpoint_naming_it(repo_root, voc_animals, tmp_path):
    """A checkpoint with unrelated keys fails in the tool's CheckedPretrained loading."""
    tool, cfg = svm_tool_and_config(repo_root, voc_animals, tmp_path)
    ckpt = tiny_checkpoint(tmp_path / 'r18.pth')
    state = torch.load(ckpt, weights_only=True)['state_dict']
    wrong = tmp_path / 'wrong.pth'
    torch.save({'state_dict': {'fc.weight': torch.zeros(3, 3)}}, wrong)
    with pytest.raises(SystemExit) as exc:
        tool.build_model(cfg, str(wrong))
    message = str(exc.value)
    assert message.startswith(f'svm_voc07: cannot load the backbone from {wrong}: ')
    assert f'CheckedPretrained: {wrong}' in message
    assert f'{len(state)} missing, 1 unexpected' in message
    # the right one loads: every backbone tensor equals the checkpoint's
    model = tool.build_model(cfg, str(ckpt))
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, state[f'backbone.{key}']), key


def test_svm_tool_random_init_is_seeded_and_loads_nothing(repo_root, voc_animals, tmp_path):
    """CHECKPOINT `random`: the backbone's own init, the same for a seed, other for another,
    and not the checkpoint's weights (the random-init baseline of the downstream study)."""
    tool, cfg = svm_tool_and_config(repo_root, voc_animals, tmp_path)
    weights = [
        tool.build_model(cfg, tool.RANDOM_INIT, seed).backbone.state_dict() for seed in (3, 3, 4)
    ]
    conv = 'conv1.weight'
    assert torch.equal(weights[0][conv], weights[1][conv])
    assert not torch.equal(weights[0][conv], weights[2][conv])
    state = torch.load(tiny_checkpoint(tmp_path / 'r18.pth'), weights_only=True)['state_dict']
    assert not torch.equal(weights[0][conv], state[f'backbone.{conv}'])


def test_svm_config_reads_as_the_tool_expects(repo_root):
    from mmengine.config import Config

    cfg = Config.fromfile(str(repo_root / SVM_CFG))
    assert cfg.svm.costs == list(LINEAGE_COSTS) and cfg.svm.folds == 3
    assert cfg.model.head is None and cfg.model.backbone.init_cfg.type == 'CheckedPretrained'
    for loader, split in ((cfg.train_dataloader, 'trainval'), (cfg.test_dataloader, 'test')):
        assert loader.dataset.split == split and not loader.sampler.get('shuffle', False)
        assert [t['type'] for t in loader.dataset.pipeline] == [
            'LoadImageFromFile',
            'ResizeEdge',
            'Resize',  # the whole image to 224 x 224, as the lineage (no crop)
            'PackInputs',
        ]
        assert 'gt_label_difficult' in loader.dataset.pipeline[-1]['meta_keys']
