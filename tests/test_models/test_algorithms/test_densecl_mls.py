"""MLS's components inside another algorithm: the DenseCL-MLS example config.

The reference for DenseCL's two InfoNCE terms and its two queues is mmpretrain's own
``DenseCL``, given the same weights and queues.
"""

import copy
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from helpers.layouts import assert_same_step
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mls_plugin  # noqa: F401

CONFIG = Path(__file__).parents[3] / (
    'configs/examples/densecl-mls_resnet18_1xb32-coslr-40e_coco-scenes-64px.py'
)
B, CROP = 8, 64  # the config's queues (512) take a batch of 8
LOSSES = {'loss_nce', 'loss_ml', 'loss_dense'}


def build(**model):
    cfg = Config.fromfile(str(CONFIG))
    cfg.merge_from_dict({f'model.{k}': v for k, v in model.items()})
    init_default_scope('mmpretrain')
    return MODELS.build(cfg.model)


def batch(seed):
    gen = torch.Generator().manual_seed(seed)
    views = [torch.randint(0, 256, (B, 3, CROP, CROP), generator=gen, dtype=torch.uint8)]
    views.append(torch.randint(0, 256, (B, 3, CROP, CROP), generator=gen, dtype=torch.uint8))
    return dict(inputs=views, data_samples=[DataSample() for _ in range(B)])


def mmpretrain_densecl(model):
    """mmpretrain's DenseCL with the model's weights, queues and loss weights (lambda 0.5)."""
    cfg = Config.fromfile(str(CONFIG)).model
    ref = MODELS.build(
        dict(
            type='DenseCL',
            backbone=cfg.backbone,
            neck=cfg.neck,
            head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.2),
            queue_len=512,
            feat_dim=128,
            momentum=cfg.momentum,
            loss_lambda=0.5,
        )
    )
    ref.backbone.load_state_dict(model.backbone.state_dict())
    ref.neck.load_state_dict(model.neck.state_dict())
    ref.queue.copy_(model.memory.bank('z').t())
    ref.queue2.copy_(model.dense_memory.bank('z').t())
    return ref


def test_a_training_step_is_densecl_plus_the_bce_and_fills_both_queues():
    torch.manual_seed(0)
    model = build()
    ref = mmpretrain_densecl(model)
    before = {
        'g': model.memory.bank('g').clone(),
        'z': model.memory.bank('z').clone(),
        'dense': model.dense_memory.bank('z').clone(),
    }
    online_before = copy.deepcopy(model.backbone.state_dict())
    data = batch(0)
    inputs = model.data_preprocessor(copy.deepcopy(data), True)['inputs']
    expected = ref(inputs, mode='loss')

    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    log = {k: float(v) for k, v in model.train_step(data, optim).items()}

    # The three terms, finite, summed into the loss the optimizer stepped on.
    assert LOSSES <= set(log) and all(math.isfinite(log[k]) for k in LOSSES)
    assert log['loss_ml'] > 0
    assert log['loss'] == pytest.approx(sum(log[k] for k in LOSSES), rel=1e-5)
    # DenseCL's single and dense InfoNCE, each weighted 1 - lambda = lambda = 0.5.
    assert log['loss_nce'] == pytest.approx(float(expected['loss_single']), rel=1e-4)
    assert log['loss_dense'] == pytest.approx(float(expected['loss_dense']), rel=1e-4)
    # The step moved the online backbone (SGD without weight decay: only a gradient moves it),
    # not the key encoder, a copy of the online weights at the first step.
    assert not torch.equal(model.backbone.conv1.weight, online_before['conv1.weight'])
    for name, value in model.target_net.module[0].state_dict().items():
        if value.is_floating_point() and 'running' not in name:
            assert torch.equal(value, online_before[name]), name

    # Both queues advanced by the batch and hold this step's normalised keys: z and the pooled
    # dense keys as mmpretrain's DenseCL enqueued them, g as the pooled key-backbone map.
    assert int(model.memory.ptr) == int(model.dense_memory.ptr) == B == int(ref.queue_ptr)
    torch.testing.assert_close(model.memory.bank('z')[:B], ref.queue[:, :B].t(), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        model.dense_memory.bank('z')[:B], ref.queue2[:, :B].t(), atol=1e-5, rtol=0
    )
    with torch.no_grad():
        key_map = ref.encoder_k.module[0](inputs[1])[-1]
    g2 = F.normalize(key_map.mean(dim=(2, 3)), dim=1)
    torch.testing.assert_close(model.memory.bank('g')[:B], g2, atol=1e-5, rtol=0)
    for name, bank in (('g', model.memory.bank('g')), ('z', model.memory.bank('z'))):
        assert torch.equal(bank[B:], before[name][B:]), name
        assert not torch.allclose(bank[:B], before[name][:B], atol=0.1), name
    assert torch.equal(model.dense_memory.bank('z')[B:], before['dense'][B:])


def test_each_loss_term_trains_its_own_branch():
    """loss_dense reaches the backbone through the dense projection (mlp2) only; the global
    terms through the global one (mlp) only."""
    torch.manual_seed(0)
    model = build()
    data = model.data_preprocessor(batch(0), True)
    losses = model(**data, mode='loss')
    params = dict(
        backbone=model.backbone.conv1.weight,
        mlp=model.neck.mlp[0].weight,
        mlp2=model.neck.mlp2[0].weight,
    )
    reached = {}
    for term in sorted(LOSSES):
        grads = torch.autograd.grad(
            losses[term], list(params.values()), retain_graph=True, allow_unused=True
        )
        reached[term] = {n for n, g in zip(params, grads) if g is not None and g.abs().sum() > 0}
    assert reached == {
        'loss_nce': {'backbone', 'mlp'},
        'loss_ml': {'backbone', 'mlp'},
        'loss_dense': {'backbone', 'mlp2'},
    }
    assert not any(p.requires_grad for p in model.target_net.parameters())


def test_channels_last_gives_the_same_three_losses_and_gradients():
    runs = []
    for channels_last in (False, True):
        torch.manual_seed(0)
        model = build(channels_last=channels_last)
        losses = model(**model.data_preprocessor(batch(0), True), mode='loss')
        sum(losses[k] for k in LOSSES).backward()
        grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
        runs.append(({k: losses[k] for k in LOSSES}, grads))
    (plain_losses, plain_grads), (fast_losses, fast_grads) = runs
    assert_same_step(plain_losses, fast_losses, plain_grads, fast_grads)


def test_key_encoder_moves_by_exactly_the_momentum_rule():
    """mmengine's convention: key <- (1 - momentum) * key + momentum * online, momentum 0.005."""
    torch.manual_seed(0)
    model = build()
    assert model.target_net.momentum == 0.005
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.5))
    for step in range(2):  # step 0 copies the online weights (mmengine EMA warm start)
        model.train_step(batch(step), optim)
    online = dict(torch.nn.Sequential(model.backbone, model.neck).named_parameters())
    key_before = copy.deepcopy(dict(model.target_net.module.named_parameters()))
    assert all(
        not torch.equal(online[n], key_before[n]) for n in ('0.conv1.weight', '1.mlp2.0.weight')
    )
    model(**model.data_preprocessor(batch(2), True), mode='loss')
    for name, key in model.target_net.module.named_parameters():
        gap = online[name] - key_before[name]
        expected = key_before[name] + 0.005 * gap
        torch.testing.assert_close(key, expected, atol=1e-7, rtol=1e-6, msg=name)
        if gap.abs().max() > 1e-3:  # a move far above the tolerance: its share is 0.005
            share = ((key - key_before[name]) * gap).sum() / (gap * gap).sum()
            assert float(share) == pytest.approx(0.005, rel=1e-3), name


def test_no_bce_leaves_densecl_with_the_same_other_terms():
    torch.manual_seed(0)
    model = build()
    torch.manual_seed(0)
    plain = build(**{'head.loss_ml': None})
    assert plain.head.loss_ml is None
    data = model.data_preprocessor(batch(0), True)
    full = model(**copy.deepcopy(data), mode='loss')
    losses = plain(**data, mode='loss')
    assert {k for k in losses if 'loss' in k} == {'loss_nce', 'loss_dense'}
    for term in ('loss_nce', 'loss_dense'):
        torch.testing.assert_close(losses[term], full[term])


@pytest.mark.parametrize(
    'model,match',
    [
        ({'dense_memory.banks': dict(z=128, g=256)}, 'one bank'),
        ({'neck.num_grid': 1}, 'num_grid=None'),
        ({'dense_memory.banks': dict(z=64)}, r'dense_memory.banks.z. is 64 .* 128 channels'),
    ],
)
def test_bad_config_is_refused(model, match):
    with pytest.raises(ValueError, match=match):
        built = build(**model)
        built(**built.data_preprocessor(batch(0), True), mode='loss')


@pytest.mark.slow
def test_the_example_config_trains_two_iterations_with_the_runner(coco_scenes, tmp_path):
    """The config as shipped, with its hooks (the BCE switched on from the start, the
    pseudo-label monitor), on 16 coco_scenes images; the kNN monitor is left out (it encodes
    the whole set before training)."""
    from mmengine.runner import Runner

    cfg = Config.fromfile(str(CONFIG))
    cfg.merge_from_dict(
        {
            'train_dataloader.dataset.data_root': str(coco_scenes),
            'train_dataloader.dataset.indices': 2 * B,
            'train_dataloader.batch_size': B,
            'train_dataloader.num_workers': 0,
            'train_dataloader.persistent_workers': False,
            'train_cfg.max_epochs': 1,
            'default_hooks.logger.interval': 1,
        }
    )
    hooks = [h for h in cfg.custom_hooks if h['type'] != 'KNNMultiLabelHook']
    for hook in hooks:
        if hook['type'] == 'BCEWarmupHook':
            hook.update(begin=0, end=0)
        if hook['type'] == 'PseudoLabelPrecisionHook':
            hook.update(interval=1)
    cfg.custom_hooks = hooks
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    runner.train()
    rows = [
        json.loads(line)
        for path in tmp_path.glob('*/vis_data/scalars.json')
        for line in path.read_text().splitlines()
    ]
    # The monitor measures from the 2nd step on, when the queue holds known images.
    assert [r['step'] for r in rows if 'pl_precision' in r] == [2]
    rows = [r for r in rows if 'loss' in r]
    assert [r['iter'] for r in rows] == [1, 2]
    for r in rows:
        assert all(math.isfinite(r[k]) for k in LOSSES) and r['loss_ml'] > 0
    model = runner.model
    assert int(model.memory.ptr) == int(model.dense_memory.ptr) == 2 * B


def _two_rank_step(rank, world, port, out):
    """One DenseCL-MLS training step on a gloo rank, counting the collectives."""
    from collections import Counter
    from unittest import mock

    import torch.distributed as dist

    dist.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world
    )
    torch.manual_seed(0)  # the same weights and queues on both ranks
    model = build().eval()  # BN on running statistics: the keys do not depend on the shuffle
    data = model.data_preprocessor(batch(rank), True)
    counts, gathered_widths = Counter(), []

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            counts[name] += 1
            if name == 'all_gather':
                gathered_widths.append(args[1].numel() // args[1].shape[0])
            return fn(*args, **kwargs)

        return wrapper

    with (
        mock.patch.object(dist, 'all_gather', counted('all_gather', dist.all_gather)),
        mock.patch.object(dist, 'broadcast', counted('broadcast', dist.broadcast)),
        mock.patch.object(
            dist, 'all_to_all_single', counted('all_to_all_single', dist.all_to_all_single)
        ),
    ):
        losses = model(**data, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    state = {k: v for k, v in model.state_dict().items() if 'memory' in k}
    torch.save(
        dict(
            state=state,
            counts=dict(counts),
            gathered_widths=gathered_widths,
            losses={k: float(losses[k]) for k in LOSSES},
        ),
        f'{out}/rank{rank}.pt',
    )
    dist.destroy_process_group()


@pytest.mark.slow
def test_a_step_on_two_ranks_is_each_ranks_own_step_with_one_key_gather(tmp_path):
    """Shuffle-BN (an all-gather and a broadcast), one all-gather for the keys of both queues
    (g, z and the pooled dense key: nothing per cell), and one all-to-all that returns each
    rank's dense maps (grid and feature cells) to it. With BN on running statistics, rank r's
    losses are those of one process on rank r's batch (its own keys, grid and feature cells
    came back to it), and both ranks hold the same queues, with rank r's keys at slots
    r B .. (r + 1) B."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    mp.spawn(_two_rank_step, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f'rank{r}.pt', weights_only=True) for r in range(2)]
    torch.manual_seed(0)
    single = build().eval()
    for r, rank in enumerate(ranks):
        assert rank['counts'] == {'all_gather': 2, 'broadcast': 1, 'all_to_all_single': 1}
        # The views (3 x CROP x CROP per image), then d_g + d_z + d_dense per image (the keys).
        dims = single.memory.dims
        key_width = dims['g'] + dims['z'] + single.dense_memory.dims['z']
        assert rank['gathered_widths'] == [3 * CROP * CROP, key_width], rank['gathered_widths']
        state = rank['state']
        assert int(state['memory.ptr']) == int(state['dense_memory.ptr']) == 2 * B
        for key, value in state.items():
            assert torch.equal(value, ranks[0]['state'][key]), key
        alone = copy.deepcopy(single)
        losses = alone(**alone.data_preprocessor(batch(r), True), mode='loss')
        for term in LOSSES:
            assert rank['losses'][term] == pytest.approx(float(losses[term]), rel=1e-5), term
        mine = slice(r * B, (r + 1) * B)
        for key in ('memory.bank_g', 'memory.bank_z', 'dense_memory.bank_z'):
            own = alone.state_dict()[key][:B]
            torch.testing.assert_close(state[key][mine], own, atol=1e-6, rtol=0, msg=key)
    assert ranks[0]['losses'] != ranks[1]['losses']  # each rank trained on its own images
