"""Projection health scalars, the BCE warm-up and the evaluated-category mask."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mls_plugin.engine.hooks import BCEWarmupHook
from mls_plugin.evaluation import evaluated_classes
from mls_plugin.models import MLSHead, QueueMemory
from mls_plugin.models.utils import projection_health


def unit(*shape, seed=0):
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=1)


def health_of(query, queue, dtype='float32'):
    """projection_health against a QueueMemory holding exactly ``queue``."""
    memory = QueueMemory(length=len(queue), banks=dict(z=queue.shape[1]), dtypes=dict(z=dtype))
    memory.enqueue(z=queue)
    return projection_health(query, *memory.moments('z'))


def test_projection_health_matches_numpy():
    z1, queue = unit(8, 16, seed=1), unit(64, 16, seed=2)
    queue = F.normalize(queue + 0.7 * unit(1, 16, seed=3), dim=1)  # a shared component
    health = health_of(z1, queue)
    a, q = z1.double().numpy(), queue.double().numpy()
    assert health['z_queue_cos'].item() == pytest.approx((a @ q.T).mean(), abs=1e-6)
    assert health['z_mean_norm'].item() == pytest.approx(np.linalg.norm(a.mean(0)), abs=1e-6)
    assert health['queue_mean_norm'].item() == pytest.approx(np.linalg.norm(q.mean(0)), abs=1e-6)
    cos = a.mean(0) @ q.mean(0) / np.linalg.norm(a.mean(0)) / np.linalg.norm(q.mean(0))
    assert health['z_align'].item() == pytest.approx(cos, abs=1e-6)
    sv = np.linalg.svd(q - q.mean(0), compute_uv=False) ** 2
    p = sv / sv.sum()
    assert health['queue_erank'].item() == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-4)


def test_moments_of_an_int8_bank_match_its_dequantised_rows():
    queue = unit(300, 16, seed=6)
    memory = QueueMemory(length=300, banks=dict(z=16), dtypes=dict(z='int8'))
    memory.enqueue(z=queue)
    rows = memory.bank('z').double()
    mean, second = memory.moments('z')
    torch.testing.assert_close(mean.double(), rows.mean(0), rtol=0, atol=1e-6)
    torch.testing.assert_close(second.double(), rows.T @ rows / 300, rtol=0, atol=1e-6)
    float_health = health_of(unit(8, 16, seed=7), queue)
    int8_health = health_of(unit(8, 16, seed=7), queue, dtype='int8')
    for key, value in float_health.items():
        assert int8_health[key].item() == pytest.approx(value.item(), rel=0.02, abs=0.01)


def test_projection_health_sees_collapse():
    spread = health_of(unit(32, 16, seed=1), unit(512, 16, seed=2))
    assert spread['queue_erank'] > 14 and abs(spread['z_queue_cos']) < 0.05
    direction = unit(1, 16, seed=4)
    collapsed = F.normalize(direction + 0.05 * unit(512, 16, seed=5), dim=1)
    health = health_of(collapsed[:32], collapsed)
    assert health['z_queue_cos'] > 0.99 and health['z_align'] > 0.99
    # Two directions left: the centred queue spans about one dimension.
    two = F.normalize(torch.cat([direction.expand(256, 16), -direction.expand(256, 16)]), dim=1)
    assert health_of(two[:4], two)['queue_erank'].item() == pytest.approx(1.0, abs=1e-2)


def fake_runner(head, iters_per_epoch=10, iteration=0):
    scalars = {}
    hub = SimpleNamespace(update_scalar=lambda key, value: scalars.__setitem__(key, value))
    runner = SimpleNamespace(
        model=SimpleNamespace(head=head),
        train_dataloader=[None] * iters_per_epoch,
        iter=iteration,
        message_hub=hub,
    )
    return runner, scalars


def test_bce_warmup_ramps_the_bce_weight_in_epochs():
    head = MLSHead(topk=2)
    hook = BCEWarmupHook(begin=1, end=3)  # epochs of 10 iterations
    runner, scalars = fake_runner(head)
    hook.before_train(runner)
    seen = {}
    for it in (0, 9, 10, 15, 20, 29, 30, 500):
        runner.iter = it
        hook.before_train_iter(runner, batch_idx=0)
        seen[it] = head.loss_ml.loss_weight / 0.5  # the factor on the configured weight
    assert seen == {0: 0.0, 9: 0.0, 10: 0.0, 15: 0.25, 20: 0.5, 29: 0.95, 30: 1.0, 500: 1.0}
    assert scalars['train/ml_scale'] == 1.0
    runner.iter = 0
    hook.before_train_iter(runner, batch_idx=0)
    hook.after_train(runner)
    assert head.loss_ml.loss_weight == 0.5  # the configured weight is back


def test_bce_warmup_hard_switch_and_errors():
    head = MLSHead(topk=2)
    hook = BCEWarmupHook(begin=50, end=50, by_epoch=False)
    hook.before_train(fake_runner(head)[0])
    assert [hook.factor(i) for i in (0, 49, 50)] == [0.0, 0.0, 1.0]
    with pytest.raises(ValueError, match='`end`'):
        BCEWarmupHook(begin=5, end=2)
    with pytest.raises(ValueError, match='loss_ml=None'):
        BCEWarmupHook(end=2).before_train(fake_runner(MLSHead(loss_ml=None))[0])
    with pytest.raises(TypeError, match='MLSHead'):
        BCEWarmupHook(end=2).before_train(fake_runner(SimpleNamespace())[0])


def test_scaled_bce_gradient_is_the_scaled_gradient():
    z1, z2, g1 = unit(4, 8, seed=1), unit(4, 8, seed=2), torch.randn(4, 6)
    memory = QueueMemory(length=16, banks=dict(g=6, z=8))
    memory.enqueue(g=unit(16, 6, seed=3), z=unit(16, 8, seed=4))
    head = MLSHead(topk=3)

    def grad_of_bce(scale):
        head.loss_ml.loss_weight = 0.5 * scale  # what BCEWarmupHook writes
        query = z1.clone().requires_grad_()
        losses = head.loss(query, z2, g1, memory)
        (grad,) = torch.autograd.grad(losses['loss_ml'], query)
        return losses['loss_ml'], grad

    full_loss, full_grad = grad_of_bce(1.0)
    loss, grad = grad_of_bce(0.25)
    assert loss.item() == pytest.approx(0.25 * full_loss.item())
    torch.testing.assert_close(grad, 0.25 * full_grad)
    zero_loss, zero_grad = grad_of_bce(0.0)
    assert zero_loss.item() == 0.0 and not zero_grad.any()


def test_evaluated_classes():
    a = torch.tensor([[1, 1, 0, 1], [1, 0, 0, 1], [1, 1, 1, 0]])
    b = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 0]])
    mask = evaluated_classes([a, b], min_positives=2)
    assert mask.tolist() == [True, True, False, False]
    assert evaluated_classes([a, b], 2, exclude=[0]).tolist() == [False, True, False, False]
    with pytest.raises(ValueError, match='lower `min_positives`'):
        evaluated_classes([a, b], 3, exclude=[0], classes=['person', 'cat', 'dog', 'car'])
