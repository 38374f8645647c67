"""The GPU smoke checks of ``tools/gpu_smoke.py`` as pytest tests (marker ``gpu``).

Each test runs one check in its own process, as ``bash tools/gpu_smoke.sh`` does, and asserts
it passed; the check's JSON record is kept under pytest's ``tmp_path``. They run only when
selected on a machine with a GPU (``pytest -m gpu``, docs/testing.md): otherwise the suite hides
CUDA and skips them (``tests/conftest.py``). The CPU side of the smoke tool (its plan, its
commands, its checks' code at a tiny size) is ``tests/test_tools/test_gpu_smoke.py``.
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


def smoke_checks() -> tuple:
    spec = importlib.util.spec_from_file_location('gpu_smoke', REPO / 'tools' / 'gpu_smoke.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CHECKS


# A check's own limit is 900 s (the subprocess's timeout); pytest's per-test 600 s would cut it.
pytestmark = [pytest.mark.gpu, pytest.mark.timeout(960)]


@pytest.mark.parametrize('check', smoke_checks())
def test_gpu_smoke_check_passes(check, tmp_path):
    if not torch.cuda.is_available():
        pytest.skip('no CUDA GPU visible')
    if check == 'two_gpus' and torch.cuda.device_count() < 2:
        pytest.skip('needs 2 GPUs')
    out = tmp_path / 'result.json'
    cmd = [sys.executable, 'tools/gpu_smoke.py', '--checks', check, '--out', str(out)]
    cmd += ['--work-dir', str(tmp_path / 'work')] + (['--two-gpus'] if check == 'two_gpus' else [])
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    record = json.loads(out.read_text())['checks'][check]
    assert record['status'] == 'PASS', f'{record["summary"]}\n{run.stdout[-4000:]}'
