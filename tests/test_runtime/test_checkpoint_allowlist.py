import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub

import mls_plugin  # noqa: F401  (registers the allow-list)


def test_runner_style_checkpoint_loads_weights_only(tmp_path):
    hub = MessageHub.get_instance('allowlist_test')
    for i in range(3):
        hub.update_scalar('train/loss', 0.5 + i)
    hub.update_info('iter', 3)
    hub.update_info('np_scalar', np.float32(1.5))
    ckpt = dict(
        meta=dict(epoch=1, iter=3, seed=0, cfg='model = dict()', mmengine_version='0.10.7'),
        state_dict=dict(w=torch.ones(2)),
        message_hub=hub.state_dict(),
        optimizer=torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1).state_dict(),
    )
    path = tmp_path / 'ckpt.pth'
    torch.save(ckpt, path)
    loaded = torch.load(path, weights_only=True)
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert buffer.mean() == pytest.approx(1.5) and buffer.current() == pytest.approx(2.5)
    assert loaded['message_hub']['runtime_info']['np_scalar'] == np.float32(1.5)


class _RunsCode:
    def __reduce__(self):
        return (os.system, ('echo pwned',))


def test_pickle_carrying_code_is_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'payload': _RunsCode()}, path)
    with pytest.raises(pickle.UnpicklingError, match='system'):
        torch.load(path, weights_only=True)


class _FetchesAttribute:
    """getattr(np.ndarray, 'tofile'): the step before writing arbitrary files."""

    def __reduce__(self):
        return (getattr, (np.ndarray, 'tofile'))


def test_getattr_is_restricted_to_history_buffer_methods(tmp_path):
    path = tmp_path / 'getattr.pth'
    torch.save({'payload': _FetchesAttribute()}, path)
    with pytest.raises(pickle.UnpicklingError, match='tofile'):
        torch.load(path, weights_only=True)
