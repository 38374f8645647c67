"""tools/gpu_smoke.py on the CPU suite: every check SKIPs, and its command lines are valid.

The checks themselves need a GPU (the suite hides CUDA); what can be checked here is the
no-GPU behaviour and that the commands the script would run name real files and real config
keys, so that a GPU session does not spend its minutes on a typo.
"""

import argparse
import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config, DictAction

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'gpu_smoke.py'
NAMES = {
    'mmcv_ops',
    'train_amp',
    'resume',
    'deterministic',
    'nccl_one_gpu',
    'two_ranks_one_gpu',
    'train_step_benchmark',
    'mask_rcnn_iter',
    'no_host_sync',
    'bank_peak_memory',
    'gpu_views_step',
    'two_gpus',
}
# Which hook each custom_hooks override must land on.
HOOK_OF_KEY = {
    'begin': 'BCEWarmupHook',
    'end': 'BCEWarmupHook',
    'interval': 'PseudoLabelPrecisionHook',
    'bank_dataloader': 'KNNMultiLabelHook',
    'query_dataloader': 'KNNMultiLabelHook',
}


@pytest.fixture(scope='module')
def smoke():
    """The tool imported as the module ``gpu_smoke`` (the name its spawned ranks import)."""
    sys.path.insert(0, str(TOOL.parent))
    try:
        import gpu_smoke
    finally:
        sys.path.remove(str(TOOL.parent))
    return gpu_smoke


@pytest.fixture(scope='module')
def no_gpu_runs(tmp_path_factory):
    """The tool with and without ``--allow-no-gpu``, both at once (each imports torch)."""
    tmp = tmp_path_factory.mktemp('gpu_smoke')
    runs = {}
    for name, flags in (('allowed', ['--allow-no-gpu']), ('refused', [])):
        out = tmp / name / 'result.json'
        cmd = [sys.executable, str(TOOL), *flags, '--out', str(out), '--work-dir', str(tmp / name)]
        proc = subprocess.Popen(
            cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        runs[name] = (proc, out)
    results = {}
    for name, (proc, out) in runs.items():
        stdout, stderr = proc.communicate(timeout=120)
        results[name] = (proc.returncode, stdout, stderr, out)
    return results


def status_lines(stdout):
    return [ln for ln in stdout.splitlines() if re.match(r'^(PASS|FAIL|SKIP) ', ln)]


def test_without_a_gpu_every_check_skips_and_the_json_is_written(no_gpu_runs):
    rc, stdout, stderr, out = no_gpu_runs['allowed']
    assert rc == 0, stdout + stderr
    lines = status_lines(stdout)
    assert len(lines) == len(NAMES), stdout
    assert all(ln.startswith('SKIP ') and 'no GPU' in ln for ln in lines), lines
    assert {ln.split()[1] for ln in lines} == NAMES
    data = json.loads(out.read_text())
    assert set(data['checks']) == NAMES
    assert all(c['status'] == 'SKIP' and 'wall_s' in c for c in data['checks'].values())
    assert data['gpu_available'] is False and data['device'] is None
    for key in ('date', 'torch', 'cuda', 'packages'):
        assert key in data


def test_without_a_gpu_and_without_the_flag_it_exits_2(no_gpu_runs):
    rc, stdout, stderr, out = no_gpu_runs['refused']
    assert rc == 2
    assert '--allow-no-gpu' in stderr
    assert len(status_lines(stdout)) == len(NAMES)
    assert json.loads(out.read_text())['ok'] is False


def cfg_options(cmd):
    """What tools/train.py's ``--cfg-options`` makes of the command line (always last)."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(cmd[cmd.index('--cfg-options') :]).cfg_options


def resolve(cfg, key):
    node = cfg
    for part in key.split('.'):
        if isinstance(node, (list, tuple)):
            assert part.isdigit() and int(part) < len(node), f'{key}: no item {part}'
            node = node[int(part)]
        else:
            assert part in node, f'{key}: no key {part!r}'
            node = node[part]
    return node


def check_train_command(cmd, configs, work):
    assert cmd[1] == 'tools/train.py' and (REPO / cmd[1]).is_file()
    config = cmd[2]
    assert (REPO / config).is_file(), config
    if config not in configs:
        configs[config] = Config.fromfile(str(REPO / config), import_custom_modules=False)
    cfg = configs[config]
    opts = cfg_options(cmd)
    for key in opts:
        resolve(cfg, key)  # every override names a key the config has
        parts = key.split('.')
        if parts[0] == 'custom_hooks':
            assert cfg.custom_hooks[int(parts[1])].type == HOOK_OF_KEY[parts[2]], key
    assert str(opts['train_dataloader.dataset.data_root']).startswith(str(work))
    merged = copy.deepcopy(cfg)
    merged.merge_from_dict(opts)
    for key, value in opts.items():
        assert resolve(merged, key) == value, key
    return opts


def test_the_planned_commands_name_existing_files_and_config_keys(smoke, tmp_path):
    work = tmp_path / 'work'
    plan = smoke.planned_commands(work, 'python')
    # run in-process functions
    internal = {
        'mmcv_ops',
        'no_host_sync',
        'bank_peak_memory',
        'gpu_views_step',
        'two_ranks_one_gpu',
    }
    assert set(plan) == NAMES - internal | {'scenes'}
    configs = {}

    (scenes,) = plan['scenes']
    assert (REPO / scenes[1]).is_file() and str(work) in scenes[3]
    assert scenes[4:] == ['--num-train', '256', '--num-val', '64']

    (train,) = plan['train_amp']
    opts = check_train_command(train, configs, work)
    assert '--amp' in train and opts['train_cfg.max_epochs'] == 2
    assert opts['default_hooks.checkpoint.interval'] == 1

    (resume,) = plan['resume']
    opts = check_train_command(resume, configs, work)
    assert '--amp' in resume and '--resume' in resume and opts['train_cfg.max_epochs'] == 3
    assert resume[resume.index('--work-dir') + 1] == train[train.index('--work-dir') + 1]

    runs = plan['deterministic']
    assert len(runs) == 2
    for cmd in runs:
        opts = check_train_command(cmd, configs, work)
        assert opts['randomness.deterministic'] is True
        assert opts['train_dataloader.num_workers'] == 0
    assert runs[0][runs[0].index('--work-dir') + 1] != runs[1][runs[1].index('--work-dir') + 1]

    bench = plan['train_step_benchmark']
    assert len(bench) == 5
    source = (REPO / 'tools/benchmarks/train_step.py').read_text()
    for cmd in bench:
        assert (REPO / cmd[1]).is_file()
        for flag in (a for a in cmd if a.startswith('--')):
            assert f"'{flag}'" in source, flag  # an option train_step.py defines

    def setting(cmd):
        g_dtype = cmd[cmd.index('--g-dtype') + 1] if '--g-dtype' in cmd else 'float32'
        return cmd[cmd.index('--queue') + 1], '--amp' in cmd, g_dtype

    settings = {setting(cmd) for cmd in bench}
    assert settings == {
        ('4096', False, 'float32'),
        ('4096', True, 'float32'),
        ('65536', True, 'float32'),
        ('65536', True, 'int8'),
        ('65536', True, 'bfloat16'),
    }

    # The 1- and 2-GPU commands: the same keys, NCCL, one work dir per check, resumed in it;
    # the failure config on the demo config.
    one_train, one_resume = plan['nccl_one_gpu']
    dist_train, dist_resume, dist_fail = plan['two_gpus']
    for gpus, cmds in (('1', (one_train, one_resume)), ('2', (dist_train, dist_resume))):
        for cmd in cmds:
            assert cmd[:2] == ['bash', 'tools/dist_train.sh'] and cmd[3] == gpus
            opts = check_train_command(['python', 'tools/train.py', *cmd[2:]], configs, work)
            assert opts['env_cfg.dist_cfg.backend'] == 'nccl'
        assert '--resume' in cmds[1] and '--resume' not in cmds[0]
        assert cmds[0][cmds[0].index('--work-dir') + 1] == cmds[1][cmds[1].index('--work-dir') + 1]
    assert (
        one_train[one_train.index('--work-dir') + 1]
        != dist_train[dist_train.index('--work-dir') + 1]
    )
    fail_cfg = Config.fromfile(str(smoke.write_fail_config(work)), import_custom_modules=False)
    assert dist_fail[2] == str(smoke.fail_config_path(work))
    assert [h.type for h in fail_cfg.custom_hooks] == ['FailOnRankHook']
    assert (REPO / smoke.FAIL_HOOK_DIR / 'fail_on_rank_hook.py').is_file()
    for key in cfg_options(dist_fail):
        resolve(fail_cfg, key)


def test_the_mask_rcnn_config_takes_the_scenes_categories(smoke, tmp_path):
    work = tmp_path / 'work'
    ann = work / 'scenes' / 'annotations' / 'instances_train.json'
    ann.parent.mkdir(parents=True)
    cats = [{'id': 2, 'name': 'disk_stripes'}, {'id': 1, 'name': 'disk_solid'}]
    ann.write_text(json.dumps({'categories': cats}))
    cfg = Config.fromfile(str(smoke.write_mask_rcnn_config(work)), import_custom_modules=False)
    dataset = cfg.train_dataloader.dataset
    assert dataset.metainfo.classes == ('disk_solid', 'disk_stripes')
    assert cfg.model.roi_head.bbox_head.num_classes == 2
    assert cfg.model.roi_head.mask_head.num_classes == 2
    assert cfg.model.backbone.init_cfg is None  # no pretrained checkpoint to find
    assert cfg.model.backbone.norm_cfg.type == 'SyncBN'  # the runner reverts it on 1 process
    assert [t['type'] for t in dataset.pipeline] == [
        'LoadImageFromFile',
        'LoadAnnotations',
        'RandomChoiceResize',
        'RandomFlip',
        'PackDetInputs',
    ]
    assert dataset.pipeline[2].scales == [(256, 160)]
    assert dataset.data_root == f'{work / "scenes"}/'
    (cmd,) = smoke.planned_commands(work, 'python')['mask_rcnn_iter']
    assert cmd[1] == 'tools/train.py' and cmd[2] == str(smoke.mask_config_path(work))


def test_the_ops_comparison_runs_on_cpu(smoke):
    """CPU against CPU: the comparison code works and finds no difference."""
    numbers = smoke.mmcv_ops_numbers('cpu')
    assert numbers['failures'] == []
    diffs = {k: v for k, v in numbers.items() if k.endswith('_max_abs_diff')}
    assert len(diffs) == 7 and all(v == 0 for v in diffs.values())
    assert numbers['nms_kept'][0] == numbers['nms_kept'][1] > 0


def test_the_no_host_sync_check_finds_no_host_read_in_mls_steps_on_cpu(smoke):
    """The smoke check's function on CPU: MLS steps (forward, backward, SGD) read no tensor
    value on the host, counted with a TorchDispatchMode (on a GPU the same steps run under
    ``torch.cuda.set_sync_debug_mode('error')``)."""
    numbers = smoke.host_sync_numbers('cpu', steps=2)
    assert numbers == dict(device='cpu', steps=2, host_reads=0)


def _keep_shuffled_keys() -> None:
    """Breaks the keys' unshuffle in a spawned rank: each rank keeps the rows it encoded."""
    import mls_plugin.models.algorithms.mls as mls_module

    real = mls_module.shuffle_rows

    def no_unshuffle(x, group=None):
        shuffled, idx_unshuffle = real(x, group)
        return shuffled, torch.arange(idx_unshuffle.numel())

    mls_module.shuffle_rows = no_unshuffle


@pytest.mark.slow
def test_the_two_ranks_check_passes_on_cpu_and_fails_when_a_rank_keeps_its_shuffled_keys(smoke):
    """The two_ranks_one_gpu check's function with CPU tensors (gloo, as on the GPU): each
    rank's step is one process's and its rows come back. With the unshuffle of the keys
    broken (each rank keeps the rows it encoded), the keys differ and the check fails.

    It runs after this process has done OpenMP work (the ops comparison and the host-sync
    count above, the rest of the suite before them): forked ranks hung there, spawned ones
    must not."""
    torch.ones(1 << 24).sum()  # a parallel op: OpenMP's threads started in this process
    numbers = smoke.two_rank_numbers('cpu')
    assert numbers['ok'], numbers
    assert numbers['queues_identical'] and numbers['ptr'] == [16, 16]
    assert numbers['own_rows_back'] == [True, True] and sum(numbers['rows_moved']) > 0
    assert numbers['loss_max_rel_diff'] < 1e-4 and numbers['keys_max_abs_diff'] < 1e-4

    broken = smoke.two_rank_numbers('cpu', rank_setup=_keep_shuffled_keys)
    assert not broken['ok'] and broken['keys_max_abs_diff'] > 1e-3, broken


def test_the_gpu_views_step_measurement_runs_on_cpu_at_a_tiny_size(smoke, tmp_path):
    """The code of the gpu_views_step check, CPU, ResNet-18 at 32 px, one step per path."""
    images = smoke.write_sample_jpegs(tmp_path / 'jpegs', num=8, size=(60, 80))
    assert len(list(images.glob('*.jpg'))) == 8
    numbers = smoke.gpu_views_numbers(
        'cpu', str(images), batches=(4,), workers=0, steps=1, warmup=1, depth=18, size=32, canvas=96
    )
    row = numbers['batch4']
    assert all(row[k] > 0 for k in ('premade', 'cpu_views', 'gpu_views'))
    assert row['gpu_over_premade'] == round(row['gpu_views'] / row['premade'], 3)
