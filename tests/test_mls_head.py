"""MLSHead against an independent, loop-based computation of Eqs. 1, 7-9."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.heads import ContrastiveHead

from mls_plugin.models import MLSHead

B, D, DZ, DG, K, TAU = 4, 16, 8, 12, 3, 0.2


@pytest.fixture
def inputs():
    gen = torch.Generator().manual_seed(0)

    def unit(*shape):
        return F.normalize(torch.randn(*shape, generator=gen, dtype=torch.float64), dim=1)

    return dict(
        z1=unit(B, DZ),
        z2=unit(B, DZ),
        g1=torch.randn(B, DG, generator=gen, dtype=torch.float64) * 3,  # not normalised
        queue_z=unit(D, DZ),
        queue_g=unit(D, DG),
    )


def reference(x, topk=K, label_src='g', logit_src='z', positive_only=False):
    """Plain-Python loops over rows and queue slots."""
    a = {k: v.numpy() for k, v in x.items()}
    g1 = a['g1'] / np.linalg.norm(a['g1'], axis=1, keepdims=True)
    nce, bce, labels = 0.0, 0.0, np.zeros((B, D), dtype=int)
    for b in range(B):
        l_pos = float(a['z1'][b] @ a['z2'][b]) / TAU
        cos_z = [float(a['z1'][b] @ a['queue_z'][i]) for i in range(D)]
        cos_g = [float(g1[b] @ a['queue_g'][i]) for i in range(D)]
        logits = [l_pos] + [c / TAU for c in cos_z]
        nce += -(l_pos - math.log(sum(math.exp(v) for v in logits)))
        scores = cos_g if label_src == 'g' else cos_z
        for i in sorted(range(D), key=lambda i: -scores[i])[:topk]:
            labels[b, i] = 1
        p = cos_z if logit_src == 'z' else cos_g
        for i in range(D):
            s = 1 / (1 + math.exp(-p[i] / TAU))
            term = labels[b, i] * math.log(s)
            if not positive_only:
                term += (1 - labels[b, i]) * math.log(1 - s)
            bce += -term / D
    return nce / B, bce / B, labels


@pytest.mark.parametrize(
    'label_src,logit_src,positive_only',
    [('g', 'z', False), ('g', 'z', True), ('g', 'g', False), ('z', 'z', False)],
)
def test_losses_match_reference(inputs, label_src, logit_src, positive_only):
    head = MLSHead(
        loss_ml=dict(type='MultiLabelBCELoss', loss_weight=0.5, positive_only=positive_only),
        temperature=TAU,
        topk=K,
        label_source=label_src,
        logit_source=logit_src,
    )
    losses = head.loss(**inputs)
    nce, bce, _ = reference(inputs, K, label_src, logit_src, positive_only)
    assert losses['loss_nce'].item() == pytest.approx(nce, rel=1e-9)
    assert losses['loss_ml'].item() == pytest.approx(0.5 * bce, rel=1e-9)


def test_topk_labels_match_reference(inputs):
    """The dense path (mmpretrain's sigmoid CE) sees the head's label matrix."""
    seen = {}

    def spy(logits, target):
        seen['target'] = target.clone()
        return F.binary_cross_entropy_with_logits(logits, target)

    head = MLSHead(loss_ml=dict(type='CrossEntropyLoss', use_sigmoid=True), topk=K)
    head.loss_ml.forward = spy
    head.loss(**inputs)
    _, _, labels = reference(inputs)
    assert np.array_equal(seen['target'].numpy().astype(int), labels)
    assert (seen['target'].sum(1) == K).all()


def test_dense_sigmoid_ce_equals_sparse_bce(inputs):
    sparse = MLSHead(loss_ml=dict(type='MultiLabelBCELoss', loss_weight=0.5), topk=K)
    dense = MLSHead(
        loss_ml=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=0.5), topk=K
    )
    a, b = sparse.loss(**inputs), dense.loss(**inputs)
    # mmpretrain casts the target to float32, so the dense result is float32.
    assert a['loss_ml'].item() == pytest.approx(b['loss_ml'].item(), rel=1e-6)
    assert a['loss_nce'].item() == pytest.approx(b['loss_nce'].item(), rel=1e-12)


def test_bce_off_is_mocov2(inputs):
    head = MLSHead(loss_ml=None, temperature=TAU)
    losses = head.loss(**inputs)
    assert set(losses) == {'loss_nce'}
    moco = ContrastiveHead(loss=dict(type='CrossEntropyLoss'), temperature=TAU)
    l_pos = (inputs['z1'] * inputs['z2']).sum(1, keepdim=True)
    l_neg = inputs['z1'] @ inputs['queue_z'].t()
    assert torch.allclose(losses['loss_nce'], moco.loss(l_pos, l_neg), rtol=1e-12)


def test_gradient_reaches_z1_only(inputs):
    x = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    losses = MLSHead(topk=K).loss(**x)
    sum(losses.values()).backward()
    assert x['z1'].grad is not None and x['z1'].grad.abs().sum() > 0
    for name in ('z2', 'g1', 'queue_z', 'queue_g'):
        assert x[name].grad is None, name


def test_bce_gradient_is_sigmoid_minus_label(inputs):
    """d loss_ml / d z1 = (s(p/tau) - y) Q_z / (tau B D) x weight."""
    z1 = inputs['z1'].clone().requires_grad_(True)
    head = MLSHead(loss_ml=dict(type='MultiLabelBCELoss', loss_weight=0.5), topk=K)
    head.loss(**{**inputs, 'z1': z1})['loss_ml'].backward()
    _, _, labels = reference(inputs)
    p = inputs['z1'] @ inputs['queue_z'].t() / TAU
    residual = torch.sigmoid(p) - torch.from_numpy(labels)
    expected = 0.5 * residual @ inputs['queue_z'] / (TAU * B * D)
    assert torch.allclose(z1.grad, expected, rtol=1e-9)


def test_logits_from_g_backpropagate_to_g1(inputs):
    g1 = inputs['g1'].clone().requires_grad_(True)
    head = MLSHead(logit_source='g', topk=K)
    assert head.differentiable_banks == ('z', 'g')
    head.loss(**{**inputs, 'g1': g1})['loss_ml'].backward()
    assert g1.grad is not None and g1.grad.abs().sum() > 0
    assert MLSHead().differentiable_banks == ('z',)


@pytest.mark.parametrize(
    'kwargs,key',
    [
        (dict(temperature=0), 'temperature'),
        (dict(temperature=-0.1), 'temperature'),
        (dict(topk=0), 'topk'),
        (dict(label_source='q'), 'label_source'),
        (dict(logit_source='x'), 'logit_source'),
        (dict(loss_ml=dict(type='MultiLabelBCELoss', loss_weight=-1.0)), 'loss_weight'),
    ],
)
def test_bad_arguments_name_the_key(kwargs, key):
    with pytest.raises(ValueError, match=key):
        MLSHead(**kwargs)


def test_topk_must_be_below_queue_length(inputs):
    with pytest.raises(ValueError, match='topk'):
        MLSHead(topk=D).loss(**inputs)


def test_low_precision_label_bank_gives_the_same_labels(inputs):
    """A bfloat16 Q_g (half the memory) ranks the queue like the float32 one here."""
    head = MLSHead(topk=K)
    full = head.loss(**inputs)
    half = head.loss(**{**inputs, 'queue_g': inputs['queue_g'].to(torch.bfloat16)})
    assert half['loss_ml'].item() == pytest.approx(full['loss_ml'].item(), rel=1e-12)


def test_cpu_autocast_bfloat16_matches_float32(inputs):
    x = {k: v.float() for k, v in inputs.items()}
    head = MLSHead(topk=K)
    ref = head.loss(**x)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        amp = head.loss(**x)
    for key in ref:
        assert torch.isfinite(amp[key])
        assert amp[key].item() == pytest.approx(ref[key].item(), rel=0.03), key
