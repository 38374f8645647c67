"""SplitBN: per-split BatchNorm statistics, and MLS's shuffle of the keys across the splits."""

import copy

import pytest
import torch
import torch.nn.functional as F
from helpers.tiny_mls import TINY_RESNET, tiny_mls_cfg
from mmpretrain.registry import MODELS
from mmpretrain.utils import register_all_modules

import mls_plugin  # noqa: F401
import mls_plugin.models.algorithms.mls as mls_module
from mls_plugin.models.utils import SplitBatchNorm, uses_split_batch_norm

register_all_modules(init_default_scope=True)


def split_and_reference(splits, channels=5):
    torch.manual_seed(0)
    bn = SplitBatchNorm(channels, num_splits=splits)
    bn.weight.data.uniform_(0.5, 1.5)
    bn.bias.data.uniform_(-0.5, 0.5)
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    refs = [torch.nn.BatchNorm2d(channels) for _ in range(splits)]
    for ref in refs:
        ref.load_state_dict(bn.state_dict())
    return bn, refs


def test_training_output_grad_and_running_stats_are_those_of_each_split_alone():
    splits = 4
    bn, refs = split_and_reference(splits)
    x = torch.randn(12, 5, 3, 3) * 3 + 1
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    out = bn(x1)
    expected = torch.empty_like(out)
    for j, ref in enumerate(refs):  # sample n is in split n % splits
        expected[j::splits] = ref(x2[j::splits])
    assert torch.allclose(out, expected, atol=1e-5)
    weights = torch.randn_like(out)
    (out * weights).sum().backward()
    (expected * weights).sum().backward()
    assert torch.allclose(x1.grad, x2.grad, atol=1e-5)
    assert torch.allclose(bn.weight.grad, sum(r.weight.grad for r in refs), atol=1e-4)
    for name in ('running_mean', 'running_var'):
        mean_of_splits = torch.stack([getattr(r, name) for r in refs]).mean(0)
        assert torch.allclose(getattr(bn, name), mean_of_splits, atol=1e-6)
    assert int(bn.num_batches_tracked) == 1
    # Splitting changes the statistics: not the whole-batch BN.
    whole, _ = split_and_reference(1)
    assert not torch.allclose(out, whole(x), atol=1e-3)


def test_eval_mode_and_one_split_are_plain_batch_norm():
    bn, refs = split_and_reference(4)
    x = torch.randn(8, 5, 3, 3)
    bn.eval()
    refs[0].eval()
    assert torch.equal(bn(x), refs[0](x))
    one, ref = split_and_reference(1)
    assert torch.allclose(one(x), ref[0](x), atol=1e-6)


def test_projector_inputs_n_by_c_are_split_as_batch_norm_1d():
    """(N, C) features, as in a projector's BN1d: each split normalised alone, in training;
    BatchNorm1d with the running statistics in eval; a 1-D input refused."""
    splits = 4
    bn, _ = split_and_reference(splits)
    refs = [torch.nn.BatchNorm1d(5) for _ in range(splits)]
    for ref in refs:
        ref.load_state_dict(bn.state_dict())
    x = torch.randn(16, 5) * 2 - 1
    out = bn(x)
    expected = torch.empty_like(out)
    for j, ref in enumerate(refs):
        expected[j::splits] = ref(x[j::splits])
    assert torch.allclose(out, expected, atol=1e-5)
    bn.eval()
    refs[0].eval()
    refs[0].load_state_dict(bn.state_dict())
    assert torch.allclose(bn(x), refs[0](x), atol=1e-6)
    with pytest.raises(ValueError, match='expected a 2-D to 5-D input'):
        bn(torch.randn(5))
    neck = MODELS.build(
        dict(
            type='NonLinearNeck',
            in_channels=8,
            hid_channels=8,
            out_channels=4,
            with_last_bn_affine=False,
            norm_cfg=dict(type='SplitBN', num_splits=2),
        )
    )
    assert uses_split_batch_norm(neck)
    (z,) = neck([torch.randn(6, 8, 2, 2)])
    assert z.shape == (6, 4) and torch.allclose(z[0::2].mean(0), torch.zeros(4), atol=1e-5)


def test_batch_not_a_multiple_of_the_splits_is_refused():
    bn, _ = split_and_reference(4)
    with pytest.raises(ValueError, match='batch of 6 does not split into num_splits=4'):
        bn(torch.randn(6, 5, 3, 3))
    with pytest.raises(ValueError, match='num_splits must be >= 1'):
        SplitBatchNorm(5, num_splits=0)


def test_resnet_with_split_bn_keeps_the_plain_bn_state_dict():
    """A checkpoint pretrained with SplitBN loads strictly into the ResNet used for transfer."""
    split = MODELS.build(dict(TINY_RESNET, norm_cfg=dict(type='SplitBN', num_splits=2)))
    plain = MODELS.build(dict(TINY_RESNET))
    assert isinstance(split.bn1, SplitBatchNorm) and uses_split_batch_norm(split)
    assert not uses_split_batch_norm(plain)
    plain.load_state_dict(split.state_dict(), strict=True)


def tiny_mls(norm_cfg):
    return MODELS.build(tiny_mls_cfg(dict(TINY_RESNET, norm_cfg=norm_cfg)))


@pytest.mark.parametrize('splits', [1, 4])
def test_mls_shuffles_keys_across_splits_and_enqueues_them_in_image_order(monkeypatch, splits):
    torch.manual_seed(0)
    model = tiny_mls(dict(type='SplitBN', num_splits=splits))
    perms = []
    shuffle = mls_module.shuffle_rows

    def spy(x, group=None):
        shuffled, unshuffle = shuffle(x, group)
        perms.append(torch.argsort(unshuffle))
        return shuffled, unshuffle

    monkeypatch.setattr(mls_module, 'shuffle_rows', spy)
    gen = torch.Generator().manual_seed(1)
    v1, v2 = (torch.randn(8, 3, 32, 32, generator=gen) for _ in range(2))
    model([v1, v2], mode='loss')
    if splits == 1:  # one process, whole-batch BN: nothing to shuffle
        assert perms == []
        return
    (perm,) = perms
    assert not torch.equal(perm, torch.arange(8))
    # Independent computation: the key encoder on the shuffled batch, rows put back in order.
    key_backbone, key_neck = copy.deepcopy(model.target_net.module)
    with torch.no_grad():
        g = F.adaptive_avg_pool2d(key_backbone(v2[perm])[-1], 1).flatten(1)
        z = F.normalize(key_neck((g,))[0], dim=1)
    order = torch.argsort(perm)
    assert torch.allclose(model.memory.bank('z')[:8], z[order], atol=1e-5)
    # The shuffle matters: the same batch unshuffled gives other keys.
    with torch.no_grad():
        g_plain = F.adaptive_avg_pool2d(key_backbone(v2)[-1], 1).flatten(1)
    assert not torch.allclose(g_plain, g[order], atol=1e-3)
