"""Deterministic mode sets what cuBLAS needs; the CPU suite runs without CUDA."""

import os

import torch
from mmengine.config import Config

from mls_plugin.runtime import prepare_determinism


def test_deterministic_mode_sets_the_cublas_workspace(monkeypatch):
    monkeypatch.delenv('CUBLAS_WORKSPACE_CONFIG', raising=False)
    prepare_determinism(Config(dict(randomness=dict(seed=0))))
    assert 'CUBLAS_WORKSPACE_CONFIG' not in os.environ
    prepare_determinism(Config(dict(randomness=dict(seed=0, deterministic=True))))
    assert os.environ['CUBLAS_WORKSPACE_CONFIG'] == ':4096:8'


def test_a_workspace_the_user_set_is_kept(monkeypatch):
    monkeypatch.setenv('CUBLAS_WORKSPACE_CONFIG', ':16:8')
    prepare_determinism(Config(dict(randomness=dict(seed=0, deterministic=True))))
    assert os.environ['CUBLAS_WORKSPACE_CONFIG'] == ':16:8'


def test_the_cpu_suite_hides_cuda():
    """conftest hides the GPUs, so that the 2-process gloo tests never pick one (set_device(1)
    on a 1-GPU host) and the suite passes on a GPU machine as on CI."""
    assert os.environ['CUDA_VISIBLE_DEVICES'] == ''
    assert not torch.cuda.is_available()
