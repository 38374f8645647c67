"""`tools/install.sh [--full] --plan`: the tier, torch variant, driver/nvcc checks, mmcv flavour,
the CUDA headers probe, the build's time estimate and the cache key.

Each test runs the script's plan mode with fake `nvcc` / `nvidia-smi` on a PATH that holds
only the few tools the script needs (so a real CUDA toolkit on the host does not leak in) and
a `python3` that refuses `-m venv` / `-m pip`: a plan that fell through to installing would
fail at once instead of downloading torch.
"""

import os
import shutil
import subprocess
import sys

import pytest

TOOLS = (
    'cat cut date dirname env grep head ls mkdir mv nproc paste rm sed sha256sum sort tail tr wc'
).split()
# CUDA version of the driver -> a realistic driver version for nvidia-smi's header.
DRIVERS = {'12.4': '550.54.15', '12.8': '570.86.15', '13.0': '580.65.06'}
NVCC_BUILDS = {'12.6': '12.6.85', '13.0': '13.0.88'}


def _script(path, text):
    path.write_text(text)
    path.chmod(0o755)


def run_plan(
    repo_root,
    tmp_path,
    nvcc=None,
    driver_cuda=None,
    gpu_cap='9.0',
    full=True,
    nvcc_headers='ok',
    torch_venv=False,
    **env_vars,
):
    """Run `bash tools/install.sh [--full] --plan`; returns (returncode, {key: value}, stderr).

    ``nvcc_headers``: what the fake nvcc's preprocessor (``-E``) finds: 'ok', 'wheels' (only
    with an ``-I`` of torch's NVIDIA wheels) or 'missing'. ``torch_venv``: the venv's python is
    this test's (which has torch), so the plan runs the CUDA headers probe.
    """
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir(exist_ok=True)
    for tool in TOOLS:
        if not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(shutil.which(tool))
    _script(
        bin_dir / 'python3',
        '#!/bin/sh\n'
        'if [ "$1" = -m ]; then echo "fake python3: no venv/pip in a plan test" >&2; exit 3; fi\n'
        f'exec {sys.executable} "$@"\n',
    )
    if nvcc:
        _script(
            bin_dir / 'nvcc',
            '#!/bin/sh\n'
            'echo "nvcc: NVIDIA (R) Cuda compiler driver"\n'
            'echo "Copyright (c) 2005-2025 NVIDIA Corporation"\n'
            f'echo "Cuda compilation tools, release {nvcc}, V{NVCC_BUILDS[nvcc]}"\n'
            f'echo "Build cuda_{nvcc}.r{nvcc}/compiler.35059454_0"\n',
        )
        _script(
            bin_dir / 'nvcc',
            (bin_dir / 'nvcc')
            .read_text()
            .replace(
                '#!/bin/sh\n',
                '#!/bin/sh\n'
                'if [ "$1" = -E ]; then\n'
                f'  case "{nvcc_headers}" in ok) exit 0 ;;\n'
                '    wheels) case "$*" in *nvidia/*) exit 0 ;; esac ;;\n'
                '  esac\n'
                '  echo "probe.cu:3:10: fatal error: cusparse.h: No such file or directory" >&2\n'
                '  exit 1\n'
                'fi\n',
            ),
        )
    if driver_cuda:
        drv = DRIVERS[driver_cuda]
        _script(
            bin_dir / 'nvidia-smi',
            '#!/bin/sh\n'
            'case "$1" in --query-gpu=compute_cap) echo ' + gpu_cap + '; exit 0 ;; esac\n'
            'echo "Wed Nov 26 10:00:00 2026"\n'
            'echo "+------------------------------------------------------------------+"\n'
            f'echo "| NVIDIA-SMI {drv}   Driver Version: {drv}   CUDA Version: {driver_cuda} |"\n'
            'echo "|   0  NVIDIA H100 80GB HBM3   On  |   00000000:18:00.0 Off |    0 |"\n',
        )
    if torch_venv:
        (tmp_path / 'venv' / 'bin').mkdir(parents=True, exist_ok=True)
        _script(tmp_path / 'venv' / 'bin' / 'python', f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    env = {
        'PATH': str(bin_dir),
        'HOME': str(tmp_path),
        'MLS_VENV': str(tmp_path / 'venv'),
        'MLS_CACHE': str(tmp_path / 'cache'),
        **{k: v for k, v in env_vars.items() if v is not None},
    }
    proc = subprocess.run(
        [shutil.which('bash'), str(repo_root / 'tools' / 'install.sh'), '--plan']
        + (['--full'] if full else []),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    plan = dict(line.split('=', 1) for line in proc.stdout.splitlines() if '=' in line)
    return proc.returncode, plan, proc.stderr


def script_cores() -> int:
    """The cores the script's `nproc` counts: its environment has no OMP_NUM_THREADS, which
    GNU nproc would obey."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('OMP_')}
    return int(subprocess.run(['nproc'], capture_output=True, text=True, env=env).stdout)


def ok_plan(*args, **kwargs):
    rc, plan, err = run_plan(*args, **kwargs)
    assert rc == 0, err
    for key in ('torch_variant', 'torch_cuda', 'flavour', 'arch_list', 'nvcc', 'cache_dir'):
        assert key in plan, (key, plan)
    return plan


@pytest.mark.parametrize('nvcc, driver', [(None, None), ('13.0', None), ('13.0', '13.0')])
def test_pretraining_tier_builds_no_ops_whatever_the_machine(repo_root, tmp_path, nvcc, driver):
    """`make demo`'s set-up: mmcv without compiled ops, with or without nvcc or a GPU."""
    plan = ok_plan(repo_root, tmp_path, nvcc=nvcc, driver_cuda=driver, full=False)
    assert plan['tier'] == 'pretrain'
    assert (plan['flavour'], plan['arch_list']) == ('none', 'none')
    assert plan['cache_dir'].endswith('-torch2.13.0-noops')
    assert plan['cuda_headers'] == 'unchecked' and plan['build_minutes'] == '1'


def test_a_full_venv_is_up_to_date_for_the_pretraining_tier(repo_root, tmp_path):
    full = ok_plan(repo_root, tmp_path)
    lite = ok_plan(repo_root, tmp_path, full=False)
    base, ops = full['stamp'].split('-')
    assert lite['stamp'] == base
    (tmp_path / 'venv').mkdir()
    (tmp_path / 'venv' / '.mls_installed').write_text(base + '\n')
    assert ok_plan(repo_root, tmp_path, full=False)['up_to_date'] == 'yes'
    assert ok_plan(repo_root, tmp_path)['up_to_date'] == 'no'  # the ops are missing
    (tmp_path / 'venv' / '.mls_ops_installed').write_text(ops + '\n')
    assert ok_plan(repo_root, tmp_path)['up_to_date'] == 'yes'
    assert ok_plan(repo_root, tmp_path, full=False)['up_to_date'] == 'yes'


def test_no_nvcc_keeps_todays_cpu_install(repo_root, tmp_path):
    plan = ok_plan(repo_root, tmp_path)
    assert plan['torch_variant'] == 'pypi'
    assert plan['torch_cuda'] == '13.0'  # PyPI's default torch 2.13.0 wheel
    assert plan['torch_index'] == 'default'  # i.e. `pip install -r requirements/torch.txt`
    assert (plan['flavour'], plan['arch_list'], plan['nvcc']) == ('cpu', 'none', 'none')
    pytag = f'cp{sys.version_info[0]}{sys.version_info[1]}'
    # The cache key of before: a CPU machine reuses its cached mmcv wheel.
    assert plan['cache_dir'] == str(tmp_path / 'cache' / f'mmcv-2.1.0-{pytag}-torch2.13.0-cpu')


def test_nvcc13_driver13_pypi_builds_cuda_for_the_visible_gpu(repo_root, tmp_path):
    plan = ok_plan(repo_root, tmp_path, nvcc='13.0', driver_cuda='13.0', gpu_cap='9.0')
    assert plan['flavour'] == 'cuda'
    assert plan['driver_cuda'] == '13.0'
    assert plan['nvcc'] == '13.0'
    assert plan['arch_list'] == '9.0+PTX'
    name = plan['cache_dir'].rsplit('/', 1)[1]
    assert 'pypi' in name and 'nvcc13.0' in name and 'sm90+PTX' in name, name


def test_driver_older_than_torch_cuda_fails_before_installing(repo_root, tmp_path):
    rc, plan, err = run_plan(repo_root, tmp_path, nvcc='13.0', driver_cuda='12.4')
    assert rc != 0
    assert 'flavour' not in plan
    assert 'driver' in err and '12.4' in err and '13.0' in err
    assert 'MLS_TORCH_CUDA=cu126' in err  # the fix: a CUDA 12 torch, or update the driver
    assert 'fake python3' not in err  # stopped by the check, not by the install


def test_nvcc_major_other_than_torch_fails_with_the_fix(repo_root, tmp_path):
    rc, plan, err = run_plan(repo_root, tmp_path, nvcc='12.6', FORCE_CUDA='1')
    assert rc != 0
    assert 'flavour' not in plan
    assert 'nvcc 12.6' in err and 'CUDA 13.0' in err
    assert 'first on PATH' in err and 'MLS_TORCH_CUDA=cu126' in err
    assert 'fake python3' not in err


def test_cu126_with_nvcc126_and_driver128(repo_root, tmp_path):
    plan = ok_plan(
        repo_root, tmp_path, nvcc='12.6', driver_cuda='12.8', gpu_cap='8.0', MLS_TORCH_CUDA='cu126'
    )
    assert plan['torch_variant'] == 'cu126'
    assert plan['torch_cuda'] == '12.6'
    assert plan['torch_index'] == 'https://download.pytorch.org/whl/cu126'
    assert plan['flavour'] == 'cuda'
    assert plan['arch_list'] == '8.0+PTX'
    assert 'cu126-cuda-nvcc12.6-sm80+PTX' in plan['cache_dir']


@pytest.mark.parametrize(
    'variant, nvcc, arch',
    [('pypi', '13.0', '7.5;8.0;8.6;9.0+PTX'), ('cu126', '12.6', '7.0;7.5;8.0;8.6;9.0+PTX')],
)
def test_login_node_builds_cuda_with_default_archs_when_forced(
    repo_root, tmp_path, variant, nvcc, arch
):
    """A login node (nvcc, no GPU) gets the CUDA ops with FORCE_CUDA=1, mmcv's own switch."""
    plan = ok_plan(repo_root, tmp_path, nvcc=nvcc, FORCE_CUDA='1', MLS_TORCH_CUDA=variant)
    assert plan['gpu'] == 'none'
    assert plan['flavour'] == 'cuda'
    assert plan['arch_list'] == arch
    # The estimate is for the build it starts: CPU part + one share per GPU target, over the cores.
    cores = script_cores()
    targets = arch.count(';') + 2  # the archs and the PTX
    assert int(plan['build_minutes']) == -(-((750 + 2400 * targets) // cores) // 60)


def test_nvcc_without_a_gpu_builds_cpu_ops(repo_root, tmp_path):
    """CI's machine and a developer's laptop: nvcc on PATH, no GPU, nothing set -> CPU ops."""
    plan = ok_plan(repo_root, tmp_path, nvcc='13.0')
    assert (plan['flavour'], plan['arch_list']) == ('cpu', 'none')
    cores = script_cores()
    assert int(plan['build_minutes']) == -(-(750 // cores) // 60)


def test_nvcc_without_the_libraries_headers_stops_at_once(repo_root, tmp_path):
    """nvcc without cusparse.h & co, no torch wheel to take them from: one sentence, no build."""
    rc, plan, err = run_plan(
        repo_root, tmp_path, nvcc='13.0', FORCE_CUDA='1', nvcc_headers='missing', torch_venv=True
    )
    assert rc != 0 and 'flavour' not in plan
    assert 'cusparse.h' in err and 'MLS_MMCV_FLAVOUR=cpu' in err and 'toolkit' in err
    assert err.count('\n') <= 2  # one message, no stack trace


def test_nvcc_without_headers_takes_them_from_torchs_wheels(repo_root, tmp_path):
    import glob
    import os.path as osp

    import torch

    site = osp.dirname(osp.dirname(torch.__file__))
    if not glob.glob(osp.join(site, 'nvidia', '*', 'include')):
        pytest.skip('this torch has no NVIDIA wheels (a CPU build)')
    plan = ok_plan(
        repo_root, tmp_path, nvcc='13.0', FORCE_CUDA='1', nvcc_headers='wheels', torch_venv=True
    )
    assert plan['cuda_headers'].startswith('extra_include=')
    assert all('/nvidia/' in d for d in plan['cuda_headers'].split('=', 1)[1].split(':'))


def test_complete_toolkit_needs_nothing_extra(repo_root, tmp_path):
    plan = ok_plan(repo_root, tmp_path, nvcc='13.0', FORCE_CUDA='1', torch_venv=True)
    assert plan['cuda_headers'] == 'ok'


def test_force_cuda_without_nvcc_fails(repo_root, tmp_path):
    rc, _, err = run_plan(repo_root, tmp_path, FORCE_CUDA='1')
    assert rc != 0 and 'need nvcc' in err and 'MLS_MMCV_FLAVOUR=cpu' in err


def test_mmcv_flavour_cpu_overrides_nvcc_and_gpu(repo_root, tmp_path):
    plan = ok_plan(
        repo_root, tmp_path, nvcc='13.0', driver_cuda='13.0', FORCE_CUDA='1', MLS_MMCV_FLAVOUR='cpu'
    )
    assert (plan['flavour'], plan['arch_list']) == ('cpu', 'none')
    assert plan['cache_dir'].endswith('-torch2.13.0-cpu')


def test_arch_list_keys_cache_and_stamp(repo_root, tmp_path):
    plans = [
        ok_plan(repo_root, tmp_path, nvcc='13.0', driver_cuda='13.0', gpu_cap='8.0'),
        ok_plan(repo_root, tmp_path, nvcc='13.0', driver_cuda='13.0', gpu_cap='9.0'),
        ok_plan(repo_root, tmp_path, nvcc='13.0', TORCH_CUDA_ARCH_LIST='8.0 9.0'),
    ]
    assert [p['arch_list'] for p in plans] == ['8.0+PTX', '9.0+PTX', '8.0;9.0+PTX']
    assert len({p['cache_dir'] for p in plans}) == 3
    assert len({p['stamp'] for p in plans}) == 3
    # The same plan gives the same stamp; a venv carrying it is up to date.
    again = ok_plan(repo_root, tmp_path, nvcc='13.0', driver_cuda='13.0', gpu_cap='9.0')
    assert again['stamp'] == plans[1]['stamp'] and again['up_to_date'] == 'no'
    (tmp_path / 'venv').mkdir()
    base, ops = plans[1]['stamp'].split('-')
    (tmp_path / 'venv' / '.mls_installed').write_text(base + '\n')
    (tmp_path / 'venv' / '.mls_ops_installed').write_text(ops + '\n')
    again = ok_plan(repo_root, tmp_path, nvcc='13.0', driver_cuda='13.0', gpu_cap='9.0')
    assert again['up_to_date'] == 'yes'
    # ... and changing the flavour re-runs the install.
    cpu = ok_plan(
        repo_root, tmp_path, nvcc='13.0', driver_cuda='13.0', gpu_cap='9.0', MLS_MMCV_FLAVOUR='cpu'
    )
    assert cpu['up_to_date'] == 'no'


def test_unknown_variant_lists_the_accepted_values(repo_root, tmp_path):
    rc, plan, err = run_plan(repo_root, tmp_path, MLS_TORCH_CUDA='cu118')
    assert rc != 0 and 'flavour' not in plan
    assert 'MLS_TORCH_CUDA' in err and 'cu118' in err
    for value in ('pypi', 'cu126', 'cu128', 'cu130', 'cpu'):
        assert value in err
