import subprocess
import sys

import pytest
import torch
import torchvision


def run(repo_root, *args):
    cmd = [sys.executable, 'tools/model_converters/extract_backbone_weights.py', *map(str, args)]
    return subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=300)


def test_extract_online_backbone_weights_only(repo_root, mls_r50_checkpoint, tmp_path):
    out = tmp_path / 'r50.pth'
    res = run(repo_root, mls_r50_checkpoint, out, '--torchvision')
    assert res.returncode == 0, res.stderr[-2000:]
    assert 'loads into torchvision.models.resnet50' in res.stdout
    backbone = torch.load(out, weights_only=True)
    state = torch.load(mls_r50_checkpoint, weights_only=True)['state_dict']
    expected = {k[len('backbone.') :]: v for k, v in state.items() if k.startswith('backbone.')}
    assert backbone.keys() == expected.keys() and len(backbone) == 318
    assert all(torch.equal(backbone[k], expected[k]) for k in expected)
    model = torchvision.models.resnet50()
    model.load_state_dict(backbone, strict=False)
    assert torch.equal(model.layer4[2].conv3.weight, expected['layer4.2.conv3.weight'])


def test_extract_momentum_encoder(repo_root, mls_r50_checkpoint, tmp_path):
    out = tmp_path / 'key.pth'
    assert run(repo_root, mls_r50_checkpoint, out, '--encoder', 'momentum').returncode == 0
    state = torch.load(mls_r50_checkpoint, weights_only=True)['state_dict']
    key = torch.load(out, weights_only=True)
    assert torch.equal(key['conv1.weight'], state['target_net.module.0.conv1.weight'])


def test_not_an_mls_checkpoint(repo_root, tmp_path):
    bad = tmp_path / 'bad.pth'
    torch.save({'state_dict': {'head.fc.weight': torch.ones(1)}}, bad)
    res = run(repo_root, bad, tmp_path / 'out.pth')
    assert res.returncode != 0 and "no key starting with 'backbone.'" in res.stderr
    assert not (tmp_path / 'out.pth').exists()


@pytest.mark.parametrize('depth', [18, 50])
def test_checked_pretrained_accepts_extracted_file(depth, tmp_path):
    """A backbone file (no prefix) and a runner checkpoint load the same way."""
    from mmdet.models.backbones import ResNet

    from mls_plugin.models import CheckedPretrainedInit

    src = ResNet(depth=depth)
    path = tmp_path / 'backbone.pth'
    torch.save(
        {k: torch.rand_like(v.float()).to(v.dtype) for k, v in src.state_dict().items()}, path
    )
    dst = ResNet(depth=depth)
    CheckedPretrainedInit(checkpoint=str(path))(dst)
    saved = torch.load(path, weights_only=True)
    assert all(torch.equal(v, saved[k]) for k, v in dst.state_dict().items())
    wrong = ResNet(depth=101 if depth == 50 else 34)
    with pytest.raises(KeyError, match=r'\d+ missing, 0 unexpected'):
        CheckedPretrainedInit(checkpoint=str(path))(wrong)
