"""MLSHead against an independent, loop-based computation of Eqs. 1, 7-9."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.heads import ContrastiveHead

from mls_plugin.models import MLSHead, QueueMemory

B, D, DZ, DG, K, TAU = 4, 16, 8, 12, 3, 0.2
F64 = dict(g='float64', z='float64')


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


def memory_of(queue_z, queue_g, dtypes=F64):
    """A QueueMemory holding exactly these (unit) rows."""
    banks = dict(g=queue_g.shape[1], z=queue_z.shape[1])
    mem = QueueMemory(length=len(queue_z), banks=banks, dtypes=dtypes)
    mem.enqueue(g=queue_g, z=queue_z)
    return mem


def run(head, x, dtypes=F64):
    return head.loss(x['z1'], x['z2'], x['g1'], memory_of(x['queue_z'], x['queue_g'], dtypes))


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
    losses = run(head, inputs)
    nce, bce, _ = reference(inputs, K, label_src, logit_src, positive_only)
    assert losses['loss_nce'].item() == pytest.approx(nce, rel=1e-9)
    assert losses['loss_ml'].item() == pytest.approx(0.5 * bce, rel=1e-9)


def test_topk_labels_match_reference(inputs):
    """The dense path (mmpretrain's sigmoid CE) sees the head's label matrix."""
    seen = {}

    def spy(logits, target):
        seen['target'] = target.clone()
        return F.binary_cross_entropy_with_logits(logits, target)

    head = MLSHead(
        loss_ml=dict(type='DenseTargetLoss', loss=dict(type='CrossEntropyLoss', use_sigmoid=True)),
        topk=K,
    )
    head.loss_ml.loss.forward = spy
    run(head, inputs)
    _, _, labels = reference(inputs)
    assert np.array_equal(seen['target'].numpy().astype(int), labels)
    assert (seen['target'].sum(1) == K).all()


def test_dense_sigmoid_ce_equals_sparse_bce(inputs):
    sparse = MLSHead(loss_ml=dict(type='MultiLabelBCELoss', loss_weight=0.5), topk=K)
    dense = MLSHead(
        loss_ml=dict(
            type='DenseTargetLoss',
            loss=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=0.5),
        ),
        topk=K,
    )
    a, b = run(sparse, inputs), run(dense, inputs)
    # mmpretrain casts the target to float32, so the dense result is float32.
    assert a['loss_ml'].item() == pytest.approx(b['loss_ml'].item(), rel=1e-6)
    assert a['loss_nce'].item() == pytest.approx(b['loss_nce'].item(), rel=1e-12)


def test_bce_off_is_mocov2(inputs):
    head = MLSHead(loss_ml=None, temperature=TAU)
    losses = run(head, inputs)
    assert set(losses) == {'loss_nce'}
    moco = ContrastiveHead(loss=dict(type='CrossEntropyLoss'), temperature=TAU)
    l_pos = (inputs['z1'] * inputs['z2']).sum(1, keepdim=True)
    l_neg = inputs['z1'] @ inputs['queue_z'].t()
    assert torch.allclose(losses['loss_nce'], moco.loss(l_pos, l_neg), rtol=1e-12)


def test_gradient_reaches_z1_only(inputs):
    x = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    mem = memory_of(inputs['queue_z'], inputs['queue_g'])
    losses = MLSHead(topk=K).loss(x['z1'], x['z2'], x['g1'], mem)
    sum(losses.values()).backward()
    assert x['z1'].grad is not None and x['z1'].grad.abs().sum() > 0
    for name in ('z2', 'g1'):
        assert x[name].grad is None, name
    assert not any(buf.requires_grad for buf in mem.buffers())


def bce_gradient(inputs, head, dtypes=F64, enqueue=False):
    """d loss_ml / d z1, optionally with the step's keys enqueued before backward."""
    z1 = inputs['z1'].clone().requires_grad_(True)
    mem = memory_of(inputs['queue_z'], inputs['queue_g'], dtypes)
    loss = head.loss(z1, inputs['z2'], inputs['g1'], mem)['loss_ml']
    if enqueue:
        gen = torch.Generator().manual_seed(1)
        kwargs = dict(dtype=inputs['z1'].dtype, generator=gen)
        mem.enqueue(g=torch.randn(B, DG, **kwargs), z=torch.randn(B, DZ, **kwargs))
        assert int(mem.ptr) == B  # slots 0..B-1 of the logits' bank were overwritten
    loss.backward()
    return z1.grad


@pytest.mark.parametrize('enqueue', [False, True])
def test_bce_gradient_is_sigmoid_minus_label(inputs, enqueue):
    """d loss_ml / d z1 = (s(p/tau) - y) Q_z / (tau B D) x weight, with Q_z as in the
    forward even when the step's enqueue overwrites slots before backward."""
    head = MLSHead(loss_ml=dict(type='MultiLabelBCELoss', loss_weight=0.5), topk=K)
    grad = bce_gradient(inputs, head, enqueue=enqueue)
    _, _, labels = reference(inputs)
    p = inputs['z1'] @ inputs['queue_z'].t() / TAU
    residual = torch.sigmoid(p) - torch.from_numpy(labels)
    expected = 0.5 * residual @ inputs['queue_z'] / (TAU * B * D)
    assert torch.allclose(grad, expected, rtol=1e-9)


@pytest.mark.parametrize('enqueue', [False, True])
@pytest.mark.parametrize('g_dtype', ['float64', 'int8'])
def test_logits_from_g_backpropagate_to_g1(inputs, g_dtype, enqueue):
    """With logits from Q_g the gradient reaches g1, also through an int8 bank, and also
    when the step's enqueue overwrites slots before backward."""
    g1 = inputs['g1'].clone().requires_grad_(True)
    mem = memory_of(inputs['queue_z'], inputs['queue_g'], dict(g=g_dtype, z='float64'))
    queue_g = mem.bank('g').to(torch.float64, copy=True)  # the rows the forward reads
    head = MLSHead(logit_source='g', topk=K)
    loss = head.loss(inputs['z1'], inputs['z2'], g1, mem)['loss_ml']
    if enqueue:
        mem.enqueue(g=torch.randn(B, DG, dtype=torch.float64), z=inputs['z2'])
    loss.backward()
    # The same loss computed directly on the dequantised bank.
    g1_ref = inputs['g1'].clone().requires_grad_(True)
    logits = F.normalize(g1_ref, dim=1) @ queue_g.t() / TAU
    labels = torch.zeros(B, D, dtype=torch.float64)
    labels.scatter_(1, (F.normalize(inputs['g1'], dim=1) @ queue_g.t()).topk(K).indices, 1)
    ref = 0.5 * F.binary_cross_entropy_with_logits(logits, labels)
    ref.backward()
    assert g1.grad.abs().sum() > 0
    assert torch.allclose(g1.grad, g1_ref.grad, rtol=1e-5, atol=1e-9)


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
        run(MLSHead(topk=D), inputs)


@pytest.mark.parametrize('dtype', ['bfloat16', 'int8'])
def test_low_precision_label_bank_gives_the_same_labels(inputs, dtype):
    """A bfloat16 (half) or int8 (quarter) Q_g ranks the queue like the float one here."""
    head = MLSHead(topk=K)
    full = run(head, inputs)
    low = run(head, inputs, dict(g=dtype, z='float64'))
    assert low['loss_ml'].item() == pytest.approx(full['loss_ml'].item(), rel=1e-12)


@pytest.mark.parametrize('g_dtype', ['float32', 'int8'])
def test_cpu_autocast_bfloat16_matches_float32(inputs, g_dtype):
    """Losses and the gradient to z1 under autocast, with the enqueue before backward."""
    x = {k: v.float() for k, v in inputs.items()}
    head = MLSHead(topk=K)
    results = []
    for autocast in (False, True):
        z1 = x['z1'].clone().requires_grad_(True)
        memory = memory_of(x['queue_z'], x['queue_g'], dict(g=g_dtype, z='float32'))
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
            losses = head.loss(z1, x['z2'], x['g1'], memory)
            memory.enqueue(g=torch.randn(B, DG), z=torch.randn(B, DZ))
        sum(losses.values()).backward()
        assert z1.grad.dtype == torch.float32 and torch.isfinite(z1.grad).all()
        results.append((losses, z1.grad))
    (ref, ref_grad), (amp, amp_grad) = results
    for key in ref:
        assert torch.isfinite(amp[key])
        assert amp[key].item() == pytest.approx(ref[key].item(), rel=0.03), key
    assert torch.allclose(amp_grad, ref_grad, rtol=0.05, atol=0.02 * ref_grad.abs().max())


@pytest.mark.parametrize('source', ['g', 'z'])
def test_pseudo_labels_are_ranked_in_float32_under_autocast(source):
    """Neighbours 5e-4 apart in cosine share one bfloat16 value (spacing 2^-8 near 1): the
    labels must still be the true top-k, as with float32 everywhere, from either bank."""
    cos = 0.95 + 5e-4 * torch.arange(D, dtype=torch.float32)  # slot D-1 is the closest
    dim = DG if source == 'g' else DZ
    queue = torch.zeros(D, dim)
    queue[:, 0] = cos
    queue[torch.arange(D), 1 + torch.arange(D) % (dim - 1)] = (1 - cos**2).sqrt()
    query = torch.zeros(B, dim)
    query[:, 0] = 1
    other = lambda n, d: F.normalize(torch.randn(n, d), dim=1)  # noqa: E731
    if source == 'g':
        g1, z, queue_g, queue_z = query, other(B, DZ), queue, other(D, DZ)
    else:
        g1, z, queue_g, queue_z = other(B, DG), query, other(D, DG), queue
    memory = memory_of(queue_z, queue_g, dict(g='float32'))
    head = MLSHead(loss_ml=None, topk=K, label_source=source)
    seen = []
    head.labeler.observe(seen.append)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        head.loss(z, z, g1, memory)
    expected = torch.arange(D - K, D).expand(B, K)
    assert torch.equal(seen[-1].sort(dim=1).values, expected)
