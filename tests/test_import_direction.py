"""The four rooms of the package and the direction of their imports (docs/architecture.md).

- the core (the method): ``mls_plugin`` itself, ``models``, ``datasets``, ``engine``,
  ``evaluation``: what a user's config names;
- the run-time plumbing: ``mls_plugin.runtime``, which knows nothing of MLS;
- the benchmark protocols: ``mls_plugin.benchmarks``;
- the lab: ``mls_plugin.analysis`` (the oracle, encoders and rankings for the diagnosis tools).

An import may only point down the list runtime <- core <- benchmarks <- lab. ``import
mls_plugin``, which every config does through ``custom_imports``, loads the core and the
run-time plumbing only: neither the lab nor the benchmarks, nor mmseg. (That it works without
mmcv's compiled ops, as in ``make demo``'s environment, is
``tests/test_configs/test_configs.py::test_pretraining_needs_neither_mmseg_nor_mmcv_ops``;
mmpretrain itself imports mmdet's models where they import.)
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / 'mls_plugin'
ROOMS = dict(runtime='runtime', benchmarks='benchmarks', analysis='lab')
ALLOWED = dict(
    runtime={'runtime'},
    core={'core', 'runtime'},
    benchmarks={'benchmarks', 'core', 'runtime'},
    lab={'lab', 'benchmarks', 'core', 'runtime'},
)


def room(module: str) -> str:
    """The room of a module ``mls_plugin.<sub>...`` (everything not named is the core)."""
    parts = module.split('.')
    return ROOMS.get(parts[1], 'core') if len(parts) > 1 else 'core'


def imported_modules(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ''
            if node.level:  # relative: resolve against the file's package
                base = path.relative_to(PACKAGE.parent).with_suffix('').parts[: -node.level]
                module = '.'.join([*base, module] if module else base)
            yield module


def test_every_room_exists():
    for sub in ROOMS:
        assert (PACKAGE / sub / '__init__.py').is_file(), sub


@pytest.mark.parametrize('source', sorted(ALLOWED))
def test_imports_point_down_the_rooms(source):
    offenders = []
    for path in sorted(PACKAGE.rglob('*.py')):
        module = '.'.join(path.relative_to(PACKAGE.parent).with_suffix('').parts)
        if room(module) != source:
            continue
        for imported in imported_modules(path):
            if imported.split('.')[0] == 'mls_plugin' and room(imported) not in ALLOWED[source]:
                offenders.append(f'{module} ({source}) imports {imported} ({room(imported)})')
    assert not offenders, offenders


def test_the_walk_resolves_relative_imports():
    """What the direction test sees: ``from ..memories import`` in a module, ``from .runtime
    import`` in a package's ``__init__``, each in its room."""
    head = set(imported_modules(PACKAGE / 'models' / 'heads' / 'mls_head.py'))
    assert 'mls_plugin.models.memories' in head
    top = set(imported_modules(PACKAGE / '__init__.py'))
    assert 'mls_plugin.runtime' in top and room('mls_plugin.runtime') == 'runtime'
    oracle = set(imported_modules(PACKAGE / 'analysis' / 'oracle.py'))
    assert 'mls_plugin.engine' in oracle and room('mls_plugin.analysis.oracle') == 'lab'
    assert 'lab' not in ALLOWED['core'] and 'benchmarks' not in ALLOWED['core']


def test_import_mls_plugin_loads_neither_the_lab_nor_the_benchmarks_nor_mmseg():
    code = (
        'import sys, mls_plugin; print(sorted(m for m in sys.modules if m.startswith('
        "('mls_plugin.analysis', 'mls_plugin.benchmarks', 'mmseg'))))"
    )
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == '[]', out.stdout
    code = "import sys, mls_plugin; print('mls_plugin.runtime' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, '-c', code],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == 'True'  # the registered plumbing resolves from a config
