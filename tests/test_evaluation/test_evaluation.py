"""Pseudo-label precision, kNN, mAP and the linear probe against hand-made cases."""

import json
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample
from torch.utils._python_dispatch import TorchDispatchMode

from mls_plugin.analysis import OraclePseudoLabelHook
from mls_plugin.benchmarks.linear_probe import fit_linear_probe
from mls_plugin.engine import PseudoLabelPrecisionHook
from mls_plugin.evaluation import (
    extract_features,
    knn_multilabel_scores,
    multilabel_map,
    pseudo_label_counts,
)
from mls_plugin.models import MLSHead, QueueMemory, TopKLabeler

# Five images over three categories: 0 {a}, 1 {a, b}, 2 {b}, 3 {c}, 4 {} (no object).
LABELS = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]])


def test_pseudo_label_precision_hand_made_case():
    # Queue slots hold images 1, 2, 3, 0, 4 and one slot not yet written (-1).
    queue_ids = torch.tensor([1, 2, 3, 0, 4, -1])
    query_ids = torch.tensor([0, 2, 4, -1])
    pos_index = torch.tensor([[0, 3], [1, 2], [0, 1], [0, 1]])
    counts = pseudo_label_counts(LABELS, query_ids, queue_ids, pos_index)
    # Query 0 {a}: slot 0 (image 1) shares a; slot 3 is image 0 itself -> left out.
    # Query 2 {b}: slot 1 is image 2 itself -> left out; slot 2 (image 3, {c}) does not share.
    # Query 4 has no category and query -1 is unknown: both left out.
    assert counts.hits == 1 and counts.pairs == 2 and counts.self_pairs == 2
    assert counts.precision == pytest.approx(0.5)
    assert counts.self_share == pytest.approx(0.5)
    # Random share over known, non-self slots: query 0 sees images 1, 2, 3, 4 -> shares with 1;
    # query 2 sees 1, 3, 0, 4 -> shares with 1.
    assert counts.random_hits == 2 and counts.random_pairs == 8
    assert counts.random_precision == pytest.approx(0.25)


def test_pseudo_label_precision_rejects_mismatched_rows():
    with pytest.raises(ValueError, match='query ids'):
        pseudo_label_counts(
            LABELS, torch.tensor([0, 1]), torch.tensor([0, 1, 2]), torch.zeros(3, 1)
        )


def test_knn_scores_match_a_loop():
    gen = torch.Generator().manual_seed(0)
    bank, queries = torch.randn(12, 5, generator=gen), torch.randn(4, 5, generator=gen)
    bank_labels = (torch.rand(12, 3, generator=gen) > 0.5).float()
    k, t = 4, 0.1
    scores = knn_multilabel_scores(bank, bank_labels, queries, k=k, temperature=t)
    for m in range(4):
        cos = [F.cosine_similarity(queries[m], bank[n], dim=0).item() for n in range(12)]
        nearest = sorted(range(12), key=lambda n: -cos[n])[:k]
        weights = torch.tensor([cos[n] / t for n in nearest]).exp()
        expected = sum(w * bank_labels[n] for w, n in zip(weights, nearest)) / weights.sum()
        torch.testing.assert_close(scores[m], expected.float(), rtol=1e-5, atol=1e-6)


def test_multilabel_map_skips_absent_categories():
    scores = torch.tensor([[0.9, 0.1, 0.5], [0.8, 0.2, 0.4], [0.7, 0.3, 0.6]])
    labels = torch.tensor([[1, 0, 0], [0, 0, 1], [1, 0, 1]])
    # Category 0: positives ranked 1 and 3 -> AP (1 + 2/3) / 2. Category 2: ranked 1 (0.6) and
    # 3 (0.4) -> the same. Category 1 has no positive and is left out (mmpretrain would add 0).
    assert multilabel_map(scores, labels) == pytest.approx(100 * (1 + 2 / 3) / 2, rel=1e-5)
    with pytest.raises(ValueError, match='no category'):
        multilabel_map(scores, torch.zeros(3, 3))


def test_linear_probe_separates_linearly_separable_labels():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 8, generator=gen)
    labels = torch.stack([x[:, 0] > 0, x[:, 1] + x[:, 2] > 0.5], dim=1).float()
    # A large offset and scale on the raw features: the probe standardises internally.
    raw = x * 50 + 1000
    probe = fit_linear_probe(raw[:150], labels[:150], steps=300, lr=0.05)
    with torch.no_grad():
        scores = probe(raw[150:])
    assert multilabel_map(scores, labels[150:]) > 95


def test_head_records_pseudo_labels_with_bce_off():
    gen = torch.Generator().manual_seed(0)
    z1, z2 = (F.normalize(torch.randn(4, 8, generator=gen), dim=1) for _ in range(2))
    g1 = torch.randn(4, 6, generator=gen)
    queue_z, queue_g = torch.randn(16, 8, generator=gen), F.normalize(torch.randn(16, 6), dim=1)
    memory = QueueMemory(length=16, banks=dict(g=6, z=8))
    memory.enqueue(g=queue_g, z=queue_z)
    head = MLSHead(loss_ml=None, topk=3)
    calls, forward = [], head.labeler.forward
    head.labeler.forward = lambda scores, k: calls.append(k) or forward(scores, k)
    plain = head.loss(z1, z2, g1, memory)
    assert not calls  # nobody observes: the BCE-off head ranks nothing, records nothing
    seen = []
    handle = head.labeler.observe(seen.append)
    recorded = head.loss(z1, z2, g1, memory)
    handle.remove()
    assert set(recorded) == {'loss_nce'}
    torch.testing.assert_close(recorded['loss_nce'], plain['loss_nce'])
    expected = (F.normalize(g1, dim=1) @ queue_g.t()).topk(3, dim=1).indices
    assert torch.equal(seen[-1].sort(dim=1).values, expected.sort(dim=1).values)


def test_head_takes_pseudo_positives_among_the_candidates_only():
    gen = torch.Generator().manual_seed(1)
    z1, z2 = (F.normalize(torch.randn(3, 8, generator=gen), dim=1) for _ in range(2))
    g1 = torch.randn(3, 6, generator=gen)
    queue_g = F.normalize(torch.randn(12, 6, generator=gen), dim=1)
    memory = QueueMemory(length=12, banks=dict(g=6, z=8))
    memory.enqueue(g=queue_g, z=F.normalize(torch.randn(12, 8, generator=gen), dim=1))
    head = MLSHead(topk=2, labeler=dict(type='OracleLabeler'))
    seen = []
    head.labeler.observe(seen.append)
    candidates = torch.rand(3, 12, generator=gen) < 0.4
    candidates[:, :2] = True  # at least k per row
    head.labeler.candidates = candidates
    losses = head.loss(z1, z2, g1, memory)
    scores = F.normalize(g1, dim=1) @ queue_g.t()
    for row in range(3):
        allowed = candidates[row].nonzero().flatten().tolist()
        expected = sorted(allowed, key=lambda slot: -float(scores[row, slot]))[:2]
        assert sorted(seen[-1][row].tolist()) == sorted(expected)
    # Only the choice of positives changes: the InfoNCE term is the unmasked head's.
    head.labeler = TopKLabeler()
    plain = head.loss(z1, z2, g1, memory)
    torch.testing.assert_close(losses['loss_nce'], plain['loss_nce'])
    assert not torch.equal(losses['loss_ml'], plain['loss_ml'])


def coco_of_labels(tmp_path):
    """A COCO json of five images ``0.jpg``..``4.jpg`` with the categories of ``LABELS``."""
    categories = [dict(id=i + 1, name=n) for i, n in enumerate('abc')]
    images = [dict(id=i, file_name=f'{i}.jpg') for i in range(5)]
    annotations = [
        dict(id=j, image_id=i, category_id=c + 1, bbox=[0, 0, 1, 1], area=1, iscrowd=0)
        for j, (i, c) in enumerate((i, c) for i in range(5) for c in range(3) if LABELS[i, c])
    ]
    ann_file = tmp_path / 'ann.json'
    ann_file.write_text(
        json.dumps(dict(images=images, annotations=annotations, categories=categories))
    )
    return ann_file


def test_oracle_hook_offers_the_entries_that_share_a_category(tmp_path):
    ann_file = coco_of_labels(tmp_path)
    memory = QueueMemory(length=4, banks=dict(g=2, z=2))
    head = MLSHead(topk=1, labeler=dict(type='OracleLabeler'))
    runner = SimpleNamespace(
        model=SimpleNamespace(memory=memory, head=head),
        iter=0,
        train_dataloader=SimpleNamespace(
            dataset=SimpleNamespace(ann_file=str(ann_file), img_prefix=str(tmp_path))
        ),
    )
    hook = OraclePseudoLabelHook(interval=100)
    hook.before_train(runner)

    def samples(image_ids):
        return dict(
            data_samples=[
                DataSample(metainfo=dict(img_path=str(tmp_path / f'{i}.jpg'))) for i in image_ids
            ]
        )

    hook.before_train_iter(runner, 0, samples([1, 3]))
    assert not head.labeler.candidates.any()  # no slot written yet
    hook._keep(torch.zeros(2, 1, dtype=torch.long))  # the labeler's output, as observed
    memory.enqueue(g=torch.randn(2, 2), z=torch.randn(2, 2))
    hook.after_train_iter(runner, 0, samples([0, 2]))  # queue: 0 2 . .
    memory.enqueue(g=torch.randn(2, 2), z=torch.randn(2, 2))
    hook.after_train_iter(runner, 1, samples([3, 4]))  # queue: 0 2 3 4
    hook.before_train_iter(runner, 2, samples([1, 3, 4]))
    # Image 1 {a, b} shares with 0 {a} and 2 {b}; 3 {c} with itself; 4 {} with nothing.
    assert head.labeler.candidates.tolist() == [
        [True, True, False, False],
        [False, False, True, False],
        [False, False, False, False],
    ]
    hook.after_train(runner)
    assert head.labeler.candidates is None
    assert not head.labeler.observed
    with pytest.raises(TypeError, match='OracleLabeler'):  # the labeler must be the oracle's
        OraclePseudoLabelHook().before_train(
            SimpleNamespace(model=SimpleNamespace(memory=memory, head=MLSHead(topk=1)))
        )


class CountHostReads(TorchDispatchMode):
    """Counts `aten::_local_scalar_dense`: every read of a tensor's value by the host (`.item()`,
    `int(t)`), which on a GPU waits for the device. Sees calls from C++ too, unlike a patch of
    `Tensor.item`."""

    def __init__(self):
        super().__init__()
        self.reads = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._local_scalar_dense.default:
            self.reads += 1
        return func(*args, **(kwargs or {}))


def test_precision_hook_mirrors_the_queue(tmp_path):
    """Slots written by the memory carry the right image ids, through a wrap-around."""
    ann_file = coco_of_labels(tmp_path)

    memory = QueueMemory(length=4, banks=dict(g=2, z=2))
    head = MLSHead(topk=1)
    model = SimpleNamespace(memory=memory, head=head)
    logged = []
    runner = SimpleNamespace(
        model=model,
        iter=0,
        train_dataloader=SimpleNamespace(
            dataset=SimpleNamespace(ann_file=str(ann_file), img_prefix=str(tmp_path))
        ),
        visualizer=SimpleNamespace(add_scalars=lambda s, step: logged.append((step, s))),
        logger=SimpleNamespace(info=lambda msg: None),
    )
    hook = PseudoLabelPrecisionHook(interval=3)
    hook.before_train(runner)
    assert head.labeler.observed

    def step(image_ids, pos_index):
        samples = [
            DataSample(metainfo=dict(img_path=str(tmp_path / f'{i}.jpg'))) for i in image_ids
        ]
        hook._keep(torch.tensor(pos_index))  # the labeler's output, as observed
        memory.enqueue(g=torch.randn(2, 2), z=torch.randn(2, 2))
        hook.after_train_iter(runner, 0, dict(data_samples=samples))
        runner.iter += 1

    with CountHostReads() as counter:  # a step without a measurement reads no tensor's value
        step([0, 1], [[0], [1]])  # queue: 0 1 . .
    assert counter.reads == 0
    step([2, 3], [[0], [1]])  # queue: 0 1 2 3
    # Measured at iteration 3, before this step's ids are mirrored: query 1 {a, b} picks slot 2
    # (image 2, shares b); query 3 {c} picks slot 0 (image 0, does not share).
    step([1, 3], [[2], [0]])  # queue after: 1 3 2 3 (wrapped)
    assert [s for s, _ in logged] == [3]
    scalars = logged[0][1]
    assert scalars['pl_precision'] == pytest.approx(0.5)
    # Random: query 1 vs images 0, 2, 3 -> 2 of 3; query 3 vs 0, 1, 2 -> 0 of 3.
    assert scalars['pl_precision_random'] == pytest.approx(2 / 6)
    assert hook._slot_ids.tolist() == [1, 3, 2, 3]
    checkpoint = {}
    hook.before_save_checkpoint(runner, checkpoint)
    restored = PseudoLabelPrecisionHook(interval=3)
    restored.after_load_checkpoint(runner, checkpoint)
    restored.before_train(runner)
    assert restored._slot_ids.tolist() == [1, 3, 2, 3]
    # A checkpoint loaded elsewhere (stand-in for CUDA: another dtype) comes back as CPU longs,
    # the index type of the CPU label matrix.
    checkpoint['pseudo_label_slot_ids'] = checkpoint['pseudo_label_slot_ids'].to(torch.int32)
    moved = PseudoLabelPrecisionHook(interval=3)
    moved.after_load_checkpoint(runner, checkpoint)
    assert moved._slot_ids.dtype == torch.long and moved._slot_ids.device.type == 'cpu'


def test_precision_hook_needs_labels(tmp_path):
    runner = SimpleNamespace(
        model=SimpleNamespace(memory=QueueMemory(4, dict(g=2, z=2)), head=MLSHead(topk=1)),
        train_dataloader=SimpleNamespace(dataset=SimpleNamespace(ann_file='', img_prefix='')),
    )
    with pytest.raises(ValueError, match='ann_file'):
        PseudoLabelPrecisionHook().before_train(runner)
    with pytest.raises(ValueError, match='interval'):
        PseudoLabelPrecisionHook(interval=0)


def test_encode_batches_runs_in_eval_mode_without_grad_and_restores_training():
    from mmpretrain.models.utils import SelfSupDataPreprocessor

    from mls_plugin.evaluation import encode_batches

    model = torch.nn.Module()
    model.data_preprocessor = SelfSupDataPreprocessor(mean=[0.0] * 3, std=[1.0] * 3)
    model.layer = torch.nn.BatchNorm2d(3)
    model.train()
    seen = []

    def encode(inputs):
        seen.append((model.layer.training, torch.is_grad_enabled()))
        return inputs.sum()

    batches = [dict(inputs=torch.ones(2, 3, 4, 4), data_samples=['a', 'b'])]
    outputs = list(encode_batches(model, batches, encode))
    assert seen == [(False, False)] and model.training
    assert outputs[0][1] == ['a', 'b'] and float(outputs[0][0]) == 96.0
    multi_view = [dict(inputs=[torch.ones(2, 3, 4, 4)] * 2, data_samples=None)]
    with pytest.raises(TypeError, match='default_collate'):
        list(encode_batches(model, multi_view, encode))
    assert model.training


class _TinyEncoder(torch.nn.Module):
    """What extract_features needs of a model: a data preprocessor and a backbone."""

    def __init__(self):
        super().__init__()
        from mmengine.model import BaseDataPreprocessor

        torch.manual_seed(0)
        self.data_preprocessor = BaseDataPreprocessor()
        conv = torch.nn.Conv2d(3, 5, 3)
        self.backbone = lambda x: (conv(x.float()),)
        self.conv = conv


def _labelled_loader(size=11):
    from mmengine.dataset import DefaultSampler, default_collate

    gen = torch.Generator().manual_seed(1)
    items = []
    for i in range(size):
        sample = DataSample().set_gt_label([i % 4, (i + 1) % 4])
        sample.set_metainfo(dict(sample_idx=i))
        items.append(
            dict(inputs=torch.randint(0, 255, (3, 8, 8), generator=gen), data_samples=sample)
        )
    return torch.utils.data.DataLoader(
        items,
        batch_size=2,
        sampler=DefaultSampler(items, shuffle=False),
        collate_fn=default_collate,
    )


def _extract_on_rank(rank, world, port, out):
    import os

    import torch.distributed as dist

    os.chdir(out)  # a shared-folder collection would leave .dist_test here
    dist.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world
    )
    feats, labels = extract_features(_TinyEncoder(), _labelled_loader(), 4)
    torch.save(dict(feats=feats, labels=labels), f'{out}/rank{rank}.pth')
    dist.destroy_process_group()


def test_features_under_ddp_are_gathered_in_dataset_order_without_a_shared_folder(tmp_path):
    """2 ranks x 6 of 11 images (the sampler repeats one): rank 0 gets the single-process
    result, row for row; nothing is written to the working directory (before: `.dist_test`
    and every row pickled with its batch's whole storage)."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    mp.spawn(_extract_on_rank, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    single_feats, single_labels = extract_features(_TinyEncoder(), _labelled_loader(), 4)
    rank0 = torch.load(tmp_path / 'rank0.pth', weights_only=True)
    rank1 = torch.load(tmp_path / 'rank1.pth', weights_only=True)
    assert rank0['feats'].shape == (11, 5) and rank0['labels'].shape == (11, 4)
    torch.testing.assert_close(rank0['feats'], single_feats)
    assert torch.equal(rank0['labels'], single_labels)
    assert rank1['feats'].numel() == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ['rank0.pth', 'rank1.pth']


def test_pool_backbone_pools_a_map_and_refuses_tokens():
    from mls_plugin.evaluation import pool_backbone

    img = torch.randn(2, 3, 4, 5)
    torch.testing.assert_close(pool_backbone(lambda x: (x,), img), img.mean(dim=(2, 3)))
    with pytest.raises(ValueError, match="out_type='featmap'"):
        pool_backbone(lambda x: (x.flatten(2),), img)
