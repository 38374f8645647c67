"""tools/analysis/gradient_probe.py: the split of the BCE into its pull and its push."""

import importlib.util

import pytest
import torch
import torch.nn.functional as F

from mls_plugin.models.heads import MLSHead
from mls_plugin.models.memories import QueueMemory


@pytest.fixture(scope='module')
def probe_module(repo_root):
    spec = importlib.util.spec_from_file_location(
        'gradient_probe', repo_root / 'tools/analysis/gradient_probe.py'
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bce_parts_sum_to_the_bce_and_the_pull_has_its_closed_form_gradient(probe_module):
    gen = torch.Generator().manual_seed(0)
    B, D, k, tau, lam = 4, 24, 3, 0.2, 0.5
    z1 = F.normalize(torch.randn(B, 8, generator=gen, dtype=torch.float64), dim=1)
    memory = QueueMemory(length=D, banks=dict(g=6, z=8), dtypes=dict(g='float64', z='float64'))
    memory.enqueue(
        g=F.normalize(torch.randn(D, 6, generator=gen, dtype=torch.float64), dim=1),
        z=F.normalize(torch.randn(D, 8, generator=gen, dtype=torch.float64), dim=1),
    )
    head = MLSHead(topk=k, temperature=tau)
    seen = []
    head.labeler.observe(seen.append)
    head.loss_ml.loss_weight = lam * 0.7  # a warm-up's factor counts in both parts
    z1.requires_grad_()
    g1 = torch.randn(B, 6, generator=gen, dtype=torch.float64)
    losses = head.loss(z1, z1.detach(), g1, memory)
    parts = probe_module.bce_parts(head, z1, memory, seen[-1])
    assert set(parts) == {'loss_ml.positive', 'loss_ml.negative'}
    assert float(sum(parts.values())) == pytest.approx(float(losses['loss_ml']), rel=1e-12)

    # d/dz1 of c * sum_pos softplus(-z1 q / tau) is -c * sigmoid(-p) q / tau, per query.
    (grad,) = torch.autograd.grad(parts['loss_ml.positive'], z1)
    queue = memory.bank('z')
    c = lam * 0.7 / (B * D)
    expected = torch.zeros(B, 8, dtype=torch.float64)
    for b in range(B):
        for slot in seen[-1][b].tolist():
            p = float(z1[b] @ queue[slot]) / tau
            expected[b] -= (
                c * torch.sigmoid(torch.tensor(-p, dtype=torch.float64)) * queue[slot] / tau
            )
    assert torch.allclose(grad, expected, rtol=1e-10, atol=1e-14)


def test_bce_parts_are_none_without_the_two_part_bce(probe_module):
    memory = QueueMemory(length=8, banks=dict(g=2, z=2))
    memory.enqueue(g=torch.randn(8, 2), z=F.normalize(torch.randn(8, 2), dim=1))
    z1 = F.normalize(torch.randn(2, 2), dim=1)
    for head in (
        MLSHead(topk=1, loss_ml=None),
        MLSHead(topk=1, loss_ml=dict(type='MultiLabelBCELoss', positive_only=True)),
    ):
        seen = []
        head.labeler.observe(seen.append)
        head.loss(z1, z1, torch.randn(2, 2), memory)
        assert probe_module.bce_parts(head, z1, memory, seen[-1]) is None
