"""The library does not lean on the lab: what `import mls_plugin` loads, and who imports whom.

`mls_plugin.analysis` (encoders and rankings for the diagnosis tools) is imported by `tools/`
and tests only; `import mls_plugin`, which every config does through `custom_imports`, must not
load it, nor mmseg. (That it works without mmcv's compiled ops, as in `make demo`'s
environment, is `tests/test_configs.py::test_pretraining_needs_neither_mmseg_nor_mmcv_ops`;
mmpretrain itself imports mmdet's models where they import.)
"""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / 'mls_plugin'


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


def test_no_module_outside_the_lab_imports_it():
    offenders = []
    for path in PACKAGE.rglob('*.py'):
        if 'analysis' in path.relative_to(PACKAGE).parts[:1]:
            continue
        for module in imported_modules(path):
            if module.startswith('mls_plugin.analysis'):
                offenders.append(f'{path.relative_to(PACKAGE.parent)} imports {module}')
    assert not offenders, offenders


def test_import_mls_plugin_loads_neither_the_lab_nor_mmseg():
    code = (
        'import sys, mls_plugin; '
        "print(sorted(m for m in sys.modules if m.startswith(('mls_plugin.analysis', 'mmseg'))))"
    )
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == '[]', out.stdout
