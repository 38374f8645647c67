"""The launch set-up that tools/train.py and tools/test.py share."""

import argparse
import os
import subprocess
import sys
from unittest import mock

import pytest
from mmengine.config import Config

import mls_plugin.runtime.launch as launch


@pytest.mark.parametrize('fails', [False, True])
def test_distributed_job_waits_for_the_others_only_after_success(fails):
    cfg = Config(dict(launcher='none'))
    with mock.patch.object(launch, 'close_distributed') as close:
        with pytest.raises(RuntimeError) if fails else mock.MagicMock():
            with launch.distributed_job(cfg):
                if fails:
                    raise RuntimeError('rank failed')
    close.assert_called_once_with(wait_for_others=not fails)


@pytest.mark.parametrize('succeeded', [False, True])
def test_a_failed_rank_leaves_the_process_group_alone(succeeded):
    """After a failure no barrier and no destroy_process_group (which can block under NCCL while
    peers sit in a collective); after success both, in that order."""
    from mls_plugin.runtime import cpu_distributed

    dist = mock.MagicMock()
    dist.is_available.return_value = dist.is_initialized.return_value = True
    with mock.patch.object(cpu_distributed.torch, 'distributed', dist):
        cpu_distributed.close_distributed(wait_for_others=succeeded)
    expected = [mock.call.barrier(), mock.call.destroy_process_group()] if succeeded else []
    assert [c for c in dist.mock_calls if c[0] in ('barrier', 'destroy_process_group')] == expected


def test_work_dir_and_workers():
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    launch.add_launch_args(parser, 'a=1')
    cfg = Config(dict(train_dataloader=dict(num_workers=0, persistent_workers=True)))
    args = parser.parse_args(['configs/x/my_config.py', '--launcher', 'pytorch'])
    launch.apply_launch_args(cfg, args)
    launch.drop_persistent_workers_without_workers(cfg)
    assert cfg.work_dir == 'work_dirs/my_config' and cfg.launcher == 'pytorch'
    assert cfg.train_dataloader.persistent_workers is False


@pytest.mark.parametrize(
    'env,argv,local_rank',
    [
        (dict(OMPI_COMM_WORLD_LOCAL_RANK='3'), [], '3'),  # mpirun
        ({}, ['--local-rank', '2'], '2'),  # torch.distributed.launch
        (dict(LOCAL_RANK='5', OMPI_COMM_WORLD_LOCAL_RANK='3'), [], '5'),  # torchrun's wins
    ],
)
def test_local_rank_comes_from_the_launcher(env, argv, local_rank, monkeypatch):
    for name in ('LOCAL_RANK', 'OMPI_COMM_WORLD_LOCAL_RANK'):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    launch.add_launch_args(parser, 'a=1')
    with mock.patch.object(sys, 'argv', ['train.py', 'cfg.py', *argv]):
        launch.parse_launch_args(parser)
    assert os.environ['LOCAL_RANK'] == local_rank


@pytest.mark.parametrize('tool', ['tools/train.py', 'tools/test.py'])
def test_both_tools_take_the_same_launch_options(repo_root, tool):
    out = subprocess.run(
        [sys.executable, tool, '--help'], cwd=repo_root, capture_output=True, text=True, check=True
    ).stdout
    for option in ('--work-dir', '--cfg-options', '--launcher', '--local-rank'):
        assert option in out


@pytest.mark.parametrize(
    'script,args',
    [('dist_train.sh', ['any_config.py', '1']), ('dist_test.sh', ['c.py', 'w.pth', '1'])],
)
def test_multi_node_without_master_addr_fails_at_once(repo_root, tmp_path, script, args):
    env = {k: v for k, v in os.environ.items() if k != 'MASTER_ADDR'}
    env.update(NNODES='2', NODE_RANK='1')
    out = subprocess.run(
        ['bash', f'tools/{script}', *args],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert 'NNODES=2 needs MASTER_ADDR' in out.stderr


def test_slurm_gives_each_task_a_cpu_per_loader_worker_and_one_for_training(repo_root, tmp_path):
    fake_srun = tmp_path / 'srun'
    fake_srun.write_text('#!/bin/sh\necho "$@"\n')
    fake_srun.chmod(0o755)
    env = dict(os.environ, PATH=f'{tmp_path}:{os.environ["PATH"]}')
    env.pop('CPUS_PER_TASK', None)
    config = 'configs/mls/mls_resnet50_8xb32-coslr-800e_coco.py'
    out = subprocess.run(
        ['bash', 'tools/slurm_train.sh', 'part', 'job', config, str(tmp_path / 'work')],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    workers = Config.fromfile(repo_root / config).train_dataloader.num_workers
    assert f'--cpus-per-task={workers + 1}' in out.split()
    assert '--launcher slurm' in out
