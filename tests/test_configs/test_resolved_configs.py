"""The paper's configs resolve to the values they had before the package was split into rooms.

``tests/resolved_configs/`` holds ``Config.fromfile(path).to_dict()`` of every paper config
(``configs/mls/**/mls_resnet50_*.py``) and every transfer config (``configs/benchmarks/``,
the small-scale study's folder aside), as JSON, written at commit d856132 before any file moved.
Each must still resolve to the same values; the only change is named below, with its reason.
"""

import json
from pathlib import Path

import pytest
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
STORED = REPO / 'tests' / 'resolved_configs'
# Where a stored config lives now, when it moved (none of the paper's or the benchmarks' did).
MOVED: dict = {}
# Intended differences: {stored name: (dotted key, value then, value now)}.
CHANGED = {
    'benchmarks/mmseg/pspnet_r50-d8_4xb4-20k_camvid-360x480': (
        'custom_imports.imports',
        ['mls_plugin', 'mls_plugin.datasets.camvid'],
        ['mls_plugin', 'mls_plugin.benchmarks.camvid'],  # CamVid moved to the benchmarks room
    ),
}
NAMES = sorted(str(p.relative_to(STORED).with_suffix('')) for p in STORED.rglob('*.json'))


def config_names(folder: str, pattern: str = '*.py') -> set:
    configs = REPO / 'configs'
    return {
        str(p.relative_to(configs).with_suffix(''))
        for p in (configs / folder).rglob(pattern)
        if 'small_scale' not in p.parts
    }


def test_every_paper_and_benchmark_config_is_stored():
    now = config_names('mls', 'mls_resnet50_*.py') | config_names('benchmarks')
    assert now == {MOVED.get(name, name) for name in NAMES}


def parent_of(cfg: dict, key: str):
    """The dict that holds the dotted ``key`` of ``cfg``, and the key's last part."""
    *parents, leaf = key.split('.')
    for part in parents:
        cfg = cfg[part]
    return cfg, leaf


@pytest.mark.parametrize('name', NAMES)
def test_config_resolves_as_before(name):
    expected = json.loads((STORED / f'{name}.json').read_text())
    path = REPO / 'configs' / f'{MOVED.get(name, name)}.py'
    now = json.loads(json.dumps(Config.fromfile(str(path)).to_dict(), sort_keys=True, default=repr))
    if name in CHANGED:
        key, then, after = CHANGED[name]
        old, leaf = parent_of(expected, key)
        assert old[leaf] == then and parent_of(now, key)[0][leaf] == after
        old[leaf] = after
    assert now == expected
