import copy
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from helpers.layouts import assert_same_step
from helpers.tiny_mls import QUEUE, TINY_RESNET, tiny_mls_cfg
from mmpretrain.registry import MODELS
from mmpretrain.utils import register_all_modules

import mls_plugin  # noqa: F401

register_all_modules(init_default_scope=True)

B = 4


def mls_on(backbone, d_g, memory=None, channels_last=False, shuffle_group_size=None, **head):
    """A small MLS on ``backbone`` (last output of ``d_g`` channels), queue of QUEUE."""
    return MODELS.build(
        tiny_mls_cfg(
            backbone,
            d_g,
            memory,
            head,
            channels_last=channels_last,
            shuffle_group_size=shuffle_group_size,
        )
    )


def tiny_mls(memory=None, channels_last=False, shuffle_group_size=None, **head):
    backbone = dict(TINY_RESNET, norm_cfg=dict(type='BN'))
    return mls_on(backbone, 64, memory, channels_last, shuffle_group_size, **head)


def views(seed):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(B, 3, 32, 32, generator=gen) for _ in range(2)]


def test_loss_and_tensor_modes():
    torch.manual_seed(0)
    model = tiny_mls()
    losses = model(views(0), mode='loss')
    assert {k for k in losses if 'loss' in k} == {'loss_nce', 'loss_ml'}
    health = {'z_queue_cos', 'z_mean_norm', 'queue_mean_norm', 'z_align', 'queue_erank'}
    assert set(losses) - {'loss_nce', 'loss_ml'} == health
    assert all(torch.isfinite(v) and v.ndim == 0 for v in losses.values())
    assert not any(losses[k].requires_grad for k in health)
    feats = model(views(1)[0], mode='tensor')
    assert isinstance(feats, tuple) and feats[-1].shape == (B, 64, 1, 1)
    with pytest.raises(ValueError, match='two views'):
        model(views(0)[:1], mode='loss')


def test_health_scalars_can_be_turned_off_and_change_no_loss():
    torch.manual_seed(0)
    model = tiny_mls()
    quiet = copy.deepcopy(model)
    quiet.log_health = False
    losses, quiet_losses = model(views(0), mode='loss'), quiet(views(0), mode='loss')
    assert set(quiet_losses) == {'loss_nce', 'loss_ml'}
    for key in quiet_losses:
        torch.testing.assert_close(losses[key], quiet_losses[key])


def test_public_encoder_gives_what_training_ranks_and_stores():
    """MLS.encode: the online (g1, z1) of the loss and the key encoder's (g2, z2), no grad."""
    torch.manual_seed(0)
    model = tiny_mls()
    model(views(0), mode='loss')  # one step: the key encoder differs from the online one
    model.eval()
    img = views(1)[0]
    g, z = model.encode(img)
    g_key, z_key = model.encode(img, 'key')
    assert g.shape == (B, 64) and z.shape == (B, 16) and not z.requires_grad
    torch.testing.assert_close(z.norm(dim=1), torch.ones(B))
    backbone, neck = model.target_net.module
    pooled = backbone(img)[-1].mean(dim=(2, 3))
    torch.testing.assert_close(g_key, pooled)
    torch.testing.assert_close(z_key, F.normalize(neck((pooled,))[0], dim=1))
    assert not torch.allclose(g, g_key)
    with pytest.raises(ValueError, match="'online' or 'key'"):
        model.encode(img, 'target')


def test_health_scalars_at_an_interval_only():
    """log_health=3: the health scalars at iterations 2, 5, ... (the logger's every_n_iters),
    so the eigendecomposition and its device wait are skipped in between."""
    from mmengine.logging import MessageHub

    torch.manual_seed(0)
    model = tiny_mls()
    model.log_health = 3
    hub = MessageHub.get_current_instance()
    logged = []
    for step in range(6):
        hub.update_info('iter', step)
        losses = model(views(step), mode='loss')
        logged.append('queue_erank' in losses)
    assert logged == [False, False, True, False, False, True]
    hub.update_info('iter', 0)
    for bad in (0, -2, 'often'):
        with pytest.raises(ValueError, match='log_health'):
            MODELS.build(tiny_mls_cfg(log_health=bad))


def test_keys_are_enqueued_after_the_loss():
    torch.manual_seed(0)
    model = tiny_mls()
    seen = {}
    original = model.head.loss

    def spy(z1, z2, g1, memory):
        seen['queue_z'], seen['queue_g'] = memory.bank('z').clone(), memory.bank('g').clone()
        return original(z1, z2, g1, memory)

    model.head.loss = spy
    before = {n: model.memory.bank(n).clone() for n in ('g', 'z')}
    v1, v2 = views(0)
    model([v1, v2], mode='loss')
    # The head saw the queue as it was before this step's keys.
    assert torch.equal(seen['queue_g'], before['g']) and torch.equal(seen['queue_z'], before['z'])
    assert int(model.memory.ptr) == B
    # Slots 0..B-1 now hold the normalised key-encoder features of view 2.
    key_backbone, key_neck = model.target_net.module
    with torch.no_grad():
        g2 = F.adaptive_avg_pool2d(key_backbone(v2)[-1], 1).flatten(1)
        z2 = F.normalize(key_neck((g2,))[0], dim=1)
    assert torch.allclose(model.memory.bank('g')[:B], F.normalize(g2, dim=1), atol=1e-5)
    assert torch.allclose(model.memory.bank('z')[:B], z2, atol=1e-5)
    assert torch.equal(model.memory.bank('g')[B:], before['g'][B:])


def test_int8_label_bank_trains_without_a_float_copy_of_the_bank(monkeypatch):
    """The training step reads an int8 Q_g only chunk by chunk: a dequantised copy of the
    whole bank would cost what the int8 storage saves (4x the int8 bank, every step)."""
    torch.manual_seed(0)
    model = tiny_mls(memory=dict(dtypes=dict(g='int8')))
    reference = copy.deepcopy(model)

    def no_copy(self, name):
        raise AssertionError(f'the training step dequantised the whole bank {name!r}')

    monkeypatch.setattr(type(model.memory), 'bank', no_copy)
    losses = model(views(0), mode='loss')
    sum(losses.values()).backward()
    monkeypatch.undo()
    # The int8 bank gives the same pseudo-labels and losses as its dequantised rows in float32.
    dequantised = reference.memory.bank('g')
    float_model = tiny_mls()
    float_model.load_state_dict(
        {k: v for k, v in reference.state_dict().items() if 'scale_g' not in k}
        | {'memory.bank_g': dequantised},
    )
    expected = float_model(views(0), mode='loss')
    for key in losses:
        torch.testing.assert_close(losses[key], expected[key], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('head', [dict(), dict(logit_source='g')])
def test_backward_reaches_online_encoder_only(head):
    torch.manual_seed(0)
    model = tiny_mls(**head)
    losses = model(views(0), mode='loss')
    sum(losses.values()).backward()  # the enqueue must not break autograd
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    assert model.neck.mlp[0].weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.target_net.parameters())
    assert not any(p.requires_grad for p in model.target_net.parameters())


def test_ema_moves_key_params_by_momentum_toward_online():
    torch.manual_seed(0)
    model = tiny_mls()
    optim = torch.optim.SGD(model.parameters(), lr=0.5)
    for step in range(2):  # step 0 copies the online weights (mmengine EMA warm start)
        optim.zero_grad()
        sum(model(views(step), mode='loss').values()).backward()
        optim.step()
    online = dict(torch.nn.Sequential(model.backbone, model.neck).named_parameters())
    key_before = copy.deepcopy(dict(model.target_net.module.named_parameters()))
    assert any(not torch.equal(online[n], key_before[n]) for n in online)
    model(views(2), mode='loss')
    for name, key in model.target_net.module.named_parameters():
        expected = key_before[name] + 0.005 * (online[name] - key_before[name])
        assert torch.allclose(key, expected, atol=1e-7), name


def test_channels_last_gives_the_same_losses_and_gradients_in_the_faster_layout():
    """Only the layout changes: the losses and every gradient agree up to float rounding.

    One step is compared: later steps diverge by rounding alone, as runs on different thread
    counts do.
    """
    runs = {}
    for channels_last in (False, True):
        torch.manual_seed(0)
        model = tiny_mls(channels_last=channels_last)
        losses = model(views(0), mode='loss')
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        runs[channels_last] = (model, losses, grads)
    (plain, plain_losses, plain_grads), (fast, fast_losses, fast_grads) = runs[False], runs[True]
    conv = 'layer1.0.conv1.weight'
    assert not plain.backbone.get_parameter(conv).is_contiguous(memory_format=torch.channels_last)
    for encoder in (fast.backbone, fast.target_net.module[0]):
        assert encoder.get_parameter(conv).is_contiguous(memory_format=torch.channels_last)
    assert_same_step(plain_losses, fast_losses, plain_grads, fast_grads)
    # The EMA's fused lerp pairs the online and key tensors of the same layout.
    optim = torch.optim.SGD(fast.parameters(), lr=0.1)
    optim.step()
    fast(views(1), mode='loss')
    assert (
        fast.target_net.module[0]
        .get_parameter(conv)
        .is_contiguous(memory_format=torch.channels_last)
    )


@pytest.mark.parametrize('interval,update_buffers', [(1, False), (2, True)])
def test_momentum_encoder_matches_mmengines_ema_and_resumes_its_count(interval, update_buffers):
    from mmengine.model import ExponentialMovingAverage

    from mls_plugin.models.utils import MomentumEncoder

    torch.manual_seed(0)
    online = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    kwargs = dict(momentum=0.3, interval=interval, update_buffers=update_buffers)
    ours, reference = MomentumEncoder(online, **kwargs), ExponentialMovingAverage(online, **kwargs)
    for step in range(5):
        with torch.no_grad():
            for p in online.parameters():
                p.add_(torch.randn_like(p))
        online(torch.randn(8, 3))  # moves the BN running statistics
        ours.update_parameters(online)
        reference.update_parameters(online)
        for (name, a), b in zip(ours.state_dict().items(), reference.state_dict().values()):
            torch.testing.assert_close(a, b, msg=f'{name} at step {step}')
    resumed = MomentumEncoder(online, **kwargs)
    resumed.load_state_dict(ours.state_dict())
    assert resumed._host_steps == 5  # a loaded encoder is not re-copied from the online one


@pytest.mark.parametrize(
    'kwargs,match',
    [
        (dict(momentum=0.0), 'momentum'),
        (dict(momentum=0.995 + 1), 'momentum'),
        (dict(memory=dict(type='QueueMemory', length=16, banks=dict(z=16))), 'memory.banks'),
        (dict(head=dict(type='MLSHead', topk=16)), r'head.topk. \(16\).*memory.length. \(16\)'),
    ],
)
def test_bad_config_is_refused(kwargs, match):
    cfg = tiny_mls_cfg()
    cfg.update(kwargs)
    with pytest.raises(ValueError, match=match):
        MODELS.build(cfg)


@pytest.mark.parametrize(
    'banks,match',
    [
        (dict(g=32, z=16), r'memory.banks.g. is 32 .*backbone output has 64'),
        (dict(g=64, z=8), r'memory.banks.z. is 8 .*neck out_channels has 16'),
    ],
)
def test_feature_dims_must_match_the_queue(banks, match):
    model = tiny_mls()
    model.memory = MODELS.build(dict(type='QueueMemory', length=QUEUE, banks=banks))
    with pytest.raises(ValueError, match=match):
        model(views(0), mode='loss')


@pytest.mark.parametrize('momentum,warned', [(0.995, True), (0.6, True), (0.005, False)])
def test_paper_m_typed_as_momentum_is_warned_about(momentum, warned):
    from mmengine.logging import MMLogger

    logger = MMLogger.get_current_instance()
    with mock.patch.object(logger, 'warning') as warning, mock.patch.object(logger, 'log') as log:
        MODELS.build(tiny_mls_cfg(momentum=momentum))
    messages = [c.args[-1] for c in log.call_args_list + warning.call_args_list]
    found = [m for m in messages if isinstance(m, str) and 'm = 0.995 is momentum=0.005' in m]
    assert bool(found) == warned
    if warned:
        assert f'momentum={momentum}' in found[0]


@pytest.mark.parametrize(
    'backbone,d_g',
    [
        (dict(type='ResNeXt', depth=50, groups=32, width_per_group=4, base_channels=16), 512),
        (dict(type='SwinTransformer', arch='tiny', img_size=64, pad_small_map=True), 768),
        (dict(type='VisionTransformer', arch='deit-tiny', img_size=32, out_type='featmap'), 192),
    ],
    ids=['resnext50', 'swin-t', 'vit-featmap'],
)
def test_mls_trains_on_other_backbone_families(backbone, d_g):
    """Any mmpretrain backbone whose last output is a (B, C, H, W) map: g is its pooled map."""
    torch.manual_seed(0)
    model = mls_on(backbone, d_g)
    size = 64 if backbone['type'] == 'SwinTransformer' else 32
    v1, v2 = (torch.randn(4, 3, size, size) for _ in range(2))
    losses = model([v1, v2], mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert all(torch.isfinite(v) for v in losses.values())
    assert model.memory.bank('g').shape == (16, d_g) and int(model.memory.ptr) == 4
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.backbone.parameters())


def test_backbone_without_a_feature_map_is_refused_with_what_to_set():
    model = mls_on(dict(type='VisionTransformer', arch='deit-tiny', img_size=32), 192)
    v = torch.randn(4, 3, 32, 32)
    with pytest.raises(ValueError, match=r"feature map.*got shape \(4, 192\).*out_type='featmap'"):
        model([v, v], mode='loss')


def _count_step_traffic(rank, world, port, out, channels_last):
    """One MLS training step on a gloo rank, counting collectives and host reads."""
    import json
    from collections import Counter

    import torch.distributed as dist

    dist.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world
    )
    torch.manual_seed(0)
    model = tiny_mls(channels_last=channels_last)
    model(views(0), mode='loss')  # the first step; the count is of a later one
    counts = Counter()

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            counts[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    patches = [
        mock.patch.object(dist, name, counted(name, getattr(dist, name)))
        for name in ('all_gather', 'all_gather_into_tensor', 'broadcast', 'all_reduce')
    ]
    # What would wait for a GPU: reading a tensor's value on the host.
    patches += [
        mock.patch.object(torch.Tensor, name, counted('host_read', getattr(torch.Tensor, name)))
        for name in ('item', 'tolist', '__bool__', '__int__', '__float__', '__index__')
    ]
    for patch in patches:
        patch.start()
    losses = model(views(1 + rank), mode='loss')
    for patch in patches:
        patch.stop()
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    with open(f'{out}/rank{rank}.json', 'w') as f:
        json.dump(dict(counts, ptr=int(model.memory.ptr)), f)
    dist.destroy_process_group()


# channels_last: shuffle-BN's all-gather and broadcast on views and keys of either layout.
@pytest.mark.parametrize('channels_last', [False, True])
def test_a_step_on_two_ranks_uses_mocos_collectives_and_no_host_read(tmp_path, channels_last):
    """MoCo's step: shuffle (all-gather + broadcast) and one all-gather of the keys. MLS
    gathers its two banks and this rank's unshuffled keys with that one all-gather too."""
    import json
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    mp.spawn(_count_step_traffic, args=(2, port, str(tmp_path), channels_last), nprocs=2, join=True)
    for rank in range(2):
        counts = json.loads((tmp_path / f'rank{rank}.json').read_text())
        assert counts.pop('ptr') == 2 * 2 * B % QUEUE
        assert counts == {'all_gather': 2, 'broadcast': 1}, counts


def _grouped_shuffle_step(rank, world, port, out):
    """One MLS step on a gloo rank with shuffle_group_size=2, recording the all-gathers."""
    import torch.distributed as dist

    dist.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world
    )
    torch.manual_seed(0)  # the same weights and queues on every rank
    model = tiny_mls(shuffle_group_size=2).eval()  # BN on running statistics (see the test)
    gathers, real = [], dist.all_gather

    def spy(tensor_list, tensor, *args, **kwargs):
        gathers.append((len(tensor_list), tuple(tensor.shape)))
        return real(tensor_list, tensor, *args, **kwargs)

    with mock.patch.object(dist, 'all_gather', spy):
        losses = model(views(1 + rank), mode='loss')
    torch.save(
        dict(
            gathers=gathers,
            losses={k: float(v) for k, v in losses.items() if 'loss' in k},
            state={k: v for k, v in model.state_dict().items() if 'memory' in k},
        ),
        f'{out}/rank{rank}.pt',
    )
    dist.destroy_process_group()


@pytest.mark.slow
def test_shuffle_in_groups_keeps_the_views_in_the_group_and_the_step_unchanged(tmp_path, free_port):
    """4 ranks in 2 shuffle groups: the views are gathered only within a group of 2 (the
    node-local shuffle), the keys of the queues across all 4. With BN on running statistics
    the shuffle cannot change a key, so each rank's losses are one process's on its batch and
    every rank holds the same queues, rank r's keys at slots r B .. (r + 1) B."""
    import torch.multiprocessing as mp

    world = 4
    mp.spawn(_grouped_shuffle_step, args=(world, free_port, str(tmp_path)), nprocs=world)
    ranks = [torch.load(tmp_path / f'rank{r}.pt', weights_only=True) for r in range(world)]
    torch.manual_seed(0)
    single = tiny_mls().eval()
    for r, rank in enumerate(ranks):
        # The views within the group (2 ranks), then g and z (64 + 16) from all 4 ranks.
        assert rank['gathers'] == [(2, (B, 3, 32, 32)), (4, (B, 64 + 16))], rank['gathers']
        alone = copy.deepcopy(single)
        losses = alone(views(1 + r), mode='loss')
        for term in ('loss_nce', 'loss_ml'):
            assert rank['losses'][term] == pytest.approx(float(losses[term]), rel=1e-5), term
        for key, value in rank['state'].items():
            assert torch.equal(value, ranks[0]['state'][key]), key
        mine = slice(r * B, (r + 1) * B)
        for name in ('g', 'z'):
            torch.testing.assert_close(
                rank['state'][f'memory.bank_{name}'][mine],
                alone.memory.bank(name)[:B],
                atol=1e-6,
                rtol=0,
            )


def test_shuffle_group_size_is_checked():
    for bad in (1, 0, 2.0, True):
        with pytest.raises(ValueError, match='shuffle_group_size'):
            tiny_mls(shuffle_group_size=bad)
