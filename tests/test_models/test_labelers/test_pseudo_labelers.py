"""The pseudo-labelers of MLSHead: each builds the positives it says, against brute force."""

import math

import pytest
import torch
import torch.nn.functional as F

from mls_plugin.analysis import OracleLabeler
from mls_plugin.models import MLSHead, NoPositivesLabeler, QueueMemory, RandomLabeler, TopKLabeler

B, D, K, TAU = 5, 40, 4, 0.2


def batch(seed=0):
    gen = torch.Generator().manual_seed(seed)
    z1, z2 = (
        F.normalize(torch.randn(B, 8, generator=gen, dtype=torch.float64), dim=1) for _ in '12'
    )
    g1 = torch.randn(B, 6, generator=gen, dtype=torch.float64)
    memory = QueueMemory(length=D, banks=dict(g=6, z=8), dtypes=dict(g='float64', z='float64'))
    queue_z = F.normalize(torch.randn(D, 8, generator=gen, dtype=torch.float64), dim=1)
    queue_g = F.normalize(torch.randn(D, 6, generator=gen, dtype=torch.float64), dim=1)
    memory.enqueue(g=queue_g, z=queue_z)
    return z1, z2, g1, memory, queue_z, queue_g


def bce_reference(logits, positives):
    """Eq. 9 by loops: positives is a list (per row) of column sets."""
    total = 0.0
    for b, row in enumerate(logits.tolist()):
        for i, x in enumerate(row):
            s = 1 / (1 + math.exp(-x))
            total -= math.log(s) if i in positives[b] else math.log(1 - s)
    return total / logits.numel()


def test_topk_labeler_is_the_k_best_scores():
    scores = torch.randn(B, D, generator=torch.Generator().manual_seed(3))
    index = TopKLabeler()(scores, K)
    for b in range(B):
        best = sorted(range(D), key=lambda i: -float(scores[b, i]))[:K]
        assert sorted(index[b].tolist()) == sorted(best)


def test_random_labeler_draws_k_distinct_entries_uniformly_whatever_the_scores():
    torch.manual_seed(0)
    scores = torch.arange(D, dtype=torch.float32).expand(B, D)  # a clear top-k it must ignore
    counts = torch.zeros(D)
    draws = 400
    for _ in range(draws):
        index = RandomLabeler()(scores, K)
        assert index.shape == (B, K)
        assert all(len(set(row.tolist())) == K for row in index)  # distinct within a row
        counts += torch.bincount(index.flatten(), minlength=D)
    expected = draws * B * K / D  # 200 per entry
    # Pearson chi-square over D - 1 = 39 degrees of freedom: its 99.9 % point is 72.1; a labeler
    # that prefers the top scores (or any tenth of the queue) is far beyond it.
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 72.1, chi2
    top = counts[-K:].sum() / counts.sum()
    assert top == pytest.approx(K / D, abs=0.02)


def test_no_positives_labeler_gives_the_bce_push_alone():
    z1, z2, g1, memory, queue_z, _ = batch()
    head = MLSHead(topk=K, temperature=TAU, labeler=dict(type='NoPositivesLabeler'))
    assert NoPositivesLabeler()(torch.zeros(B, D), K).shape == (B, 0)
    losses = head.loss(z1, z2, g1, memory)
    logits = z1 @ queue_z.t() / TAU
    expected = 0.5 * bce_reference(logits, [set()] * B)  # y = 0 everywhere
    assert losses['loss_ml'].item() == pytest.approx(expected, rel=1e-10)


def test_random_positives_change_the_bce_not_infonce():
    z1, z2, g1, memory, queue_z, _ = batch()
    head = MLSHead(topk=K, temperature=TAU, labeler=dict(type='RandomLabeler'))
    seen = []
    head.labeler.observe(seen.append)
    torch.manual_seed(1)
    losses = head.loss(z1, z2, g1, memory)
    positives = [set(row.tolist()) for row in seen[-1]]
    logits = z1 @ queue_z.t() / TAU
    assert losses['loss_ml'].item() == pytest.approx(
        0.5 * bce_reference(logits, positives), rel=1e-10
    )
    plain = MLSHead(topk=K, temperature=TAU).loss(z1, z2, g1, memory)
    torch.testing.assert_close(losses['loss_nce'], plain['loss_nce'])


@pytest.mark.parametrize('dense', [False, True])
def test_candidates_give_at_most_k_positives(dense):
    """The oracle's rule: the top-k among the allowed entries, fewer where fewer are allowed."""
    z1, z2, g1, memory, queue_z, queue_g = batch(seed=2)
    loss_ml = (
        dict(
            type='DenseTargetLoss',
            loss=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=0.5),
        )
        if dense
        else dict(type='MultiLabelBCELoss', loss_weight=0.5)
    )
    head = MLSHead(topk=K, temperature=TAU, loss_ml=loss_ml, labeler=dict(type='OracleLabeler'))
    assert isinstance(head.labeler, OracleLabeler)
    allowed = torch.zeros(B, D, dtype=torch.bool)
    allowed[0, [3, 7, 11, 19, 23, 31]] = True  # more than k: the best k by score
    allowed[1, [5]] = True  # one: one positive, not k
    allowed[2, [2, 9]] = True
    # row 3: none allowed, no positive; row 4: all allowed, the plain top-k
    allowed[4] = True
    head.labeler.candidates = allowed
    losses = head.loss(z1, z2, g1, memory)
    scores = F.normalize(g1, dim=1) @ queue_g.t()
    positives = []
    for b in range(B):
        slots = allowed[b].nonzero().flatten().tolist()
        positives.append(set(sorted(slots, key=lambda i: -float(scores[b, i]))[:K]))
    assert [len(p) for p in positives] == [K, 1, 2, 0, K]
    logits = z1 @ queue_z.t() / TAU
    rel = 1e-6 if dense else 1e-10  # mmpretrain's dense loss casts the target to float32
    assert losses['loss_ml'].item() == pytest.approx(
        0.5 * bce_reference(logits, positives), rel=rel
    )
