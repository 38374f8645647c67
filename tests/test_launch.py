"""The launch set-up that tools/train.py and tools/test.py share."""

import argparse
import subprocess
import sys
from unittest import mock

import pytest
from mmengine.config import Config

import mls_plugin.utils.launch as launch


@pytest.mark.parametrize('fails', [False, True])
def test_distributed_job_waits_for_the_others_only_after_success(fails):
    cfg = Config(dict(launcher='none'))
    with mock.patch.object(launch, 'close_distributed') as close:
        with pytest.raises(RuntimeError) if fails else mock.MagicMock():
            with launch.distributed_job(cfg):
                if fails:
                    raise RuntimeError('rank failed')
    close.assert_called_once_with(wait_for_others=not fails)


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


@pytest.mark.parametrize('tool', ['tools/train.py', 'tools/test.py'])
def test_both_tools_take_the_same_launch_options(repo_root, tool):
    out = subprocess.run(
        [sys.executable, tool, '--help'], cwd=repo_root, capture_output=True, text=True, check=True
    ).stdout
    for option in ('--work-dir', '--cfg-options', '--launcher', '--local-rank'):
        assert option in out
