import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F

from mls_plugin.models import QueueMemory


def test_buffers_are_unit_rows_and_in_state_dict():
    mem = QueueMemory(length=8, banks=dict(g=6, z=3))
    assert set(mem.state_dict()) == {'bank_g', 'bank_z', 'ptr'}
    assert mem.bank('g').shape == (8, 6) and mem.bank('z').shape == (8, 3)
    assert torch.allclose(mem.bank('g').norm(dim=1), torch.ones(8))
    assert int(mem.ptr) == 0


def test_enqueue_writes_normalised_rows_at_pointer_and_wraps():
    mem = QueueMemory(length=6, banks=dict(g=5, z=3))
    batches = [(torch.randn(2, 5), torch.randn(2, 3)) for _ in range(4)]
    for g, z in batches[:3]:
        mem.enqueue(g=g, z=z)
    assert int(mem.ptr) == 0  # 3 x 2 = 6 slots: wrapped exactly once
    for i, (g, z) in enumerate(batches[:3]):
        assert torch.allclose(mem.bank('g')[2 * i : 2 * i + 2], F.normalize(g, dim=1))
        assert torch.allclose(mem.bank('z')[2 * i : 2 * i + 2], F.normalize(z, dim=1))
    g, z = batches[3]
    mem.enqueue(g=g, z=z)  # overwrites the oldest slots, 0 and 1
    assert int(mem.ptr) == 2
    assert torch.allclose(mem.bank('g')[:2], F.normalize(g, dim=1))
    assert torch.allclose(mem.bank('g')[2:4], F.normalize(batches[1][0], dim=1))


def test_banks_stay_aligned_slot_by_slot():
    """Bank g and bank z are written at the same slots in the same order."""
    mem = QueueMemory(length=12, banks=dict(g=4, z=2))
    tag = 0
    for _ in range(7):  # wraps around more than once
        ids = torch.arange(tag, tag + 4, dtype=torch.float)
        tag += 4
        mem.enqueue(
            g=torch.stack([ids + 1, torch.ones(4) * 1e-3, ids * 0, ids * 0], 1),
            z=torch.stack([ids + 1, torch.ones(4) * 1e-3], 1),
        )
    # Rows are unit vectors; the tag survives as the ratio of the first two coordinates.
    tag_g = mem.bank('g')[:, 0] / mem.bank('g')[:, 1] * 1e-3
    tag_z = mem.bank('z')[:, 0] / mem.bank('z')[:, 1] * 1e-3
    assert torch.allclose(tag_g, tag_z)
    # Last 12 tags (16..27), slot = tag mod 12.
    expected = torch.tensor(
        [t + 1 for t in sorted(range(16, 28), key=lambda t: t % 12)], dtype=torch.float
    )
    assert torch.allclose(tag_g, expected, rtol=1e-4)


def test_length_not_multiple_of_global_batch_is_refused():
    mem = QueueMemory(length=10, banks=dict(z=3))
    before = mem.bank('z').clone()
    with pytest.raises(ValueError, match=r'`length` \(10\).*global batch \(4'):
        mem.enqueue(z=torch.randn(4, 3))
    assert torch.equal(mem.bank('z'), before) and int(mem.ptr) == 0


def test_bad_enqueue_and_construction():
    mem = QueueMemory(length=8, banks=dict(g=4, z=2))
    with pytest.raises(KeyError, match='banks'):
        mem.enqueue(g=torch.randn(2, 4))
    with pytest.raises(ValueError, match='different batch sizes'):
        mem.enqueue(g=torch.randn(2, 4), z=torch.randn(4, 2))
    with pytest.raises(KeyError, match="no bank 'q'"):
        mem.bank('q')
    with pytest.raises(ValueError, match='length'):
        QueueMemory(length=0, banks=dict(z=2))
    with pytest.raises(ValueError, match='banks'):
        QueueMemory(length=8, banks={})
    with pytest.raises(ValueError, match='banks.z'):
        QueueMemory(length=8, banks=dict(z=0))


def _enqueue_on_rank(rank, world, port, out):
    import torch.distributed as dist

    dist.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world
    )
    torch.manual_seed(0)  # same initial queue on both ranks, as the model would be
    mem = QueueMemory(length=12, banks=dict(g=4, z=2))
    for step in range(4):  # global batch 2 x 2 = 4: wraps after 3 steps
        gen = torch.Generator().manual_seed(100 * step + rank)
        mem.enqueue(g=torch.randn(2, 4, generator=gen), z=torch.randn(2, 2, generator=gen))
    torch.save({k: v.clone() for k, v in mem.state_dict().items()}, f'{out}/rank{rank}.pth')
    dist.destroy_process_group()


def test_two_ranks_hold_identical_queues_in_global_batch_order(tmp_path, free_port):
    mp.spawn(_enqueue_on_rank, args=(2, free_port, str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / 'rank0.pth', weights_only=True)
    r1 = torch.load(tmp_path / 'rank1.pth', weights_only=True)
    for key in r0:
        assert torch.equal(r0[key], r1[key]), key
    assert int(r0['ptr']) == 4
    # Step s writes slots 4s..4s+3 (mod 12) with rank 0's rows, then rank 1's.
    for step in range(4):
        slots = [(4 * step + j) % 12 for j in range(4)]
        rows = []
        for rank in range(2):
            gen = torch.Generator().manual_seed(100 * step + rank)
            rows.append((torch.randn(2, 4, generator=gen), torch.randn(2, 2, generator=gen)))
        if step == 0:
            continue  # overwritten by step 3
        g = F.normalize(torch.cat([rows[0][0], rows[1][0]]), dim=1)
        z = F.normalize(torch.cat([rows[0][1], rows[1][1]]), dim=1)
        assert torch.allclose(r0['bank_g'][slots], g), step
        assert torch.allclose(r0['bank_z'][slots], z), step


def test_bank_dtype_option():
    mem = QueueMemory(length=8, banks=dict(g=4, z=2), dtypes=dict(g='bfloat16'))
    assert mem.bank('g').dtype == torch.bfloat16 and mem.bank('z').dtype == torch.float32
    g = torch.randn(4, 4)
    mem.enqueue(g=g, z=torch.randn(4, 2))
    assert torch.allclose(mem.bank('g')[:4].float(), F.normalize(g, dim=1), atol=1e-2)
    with pytest.raises(ValueError, match='dtypes.g'):
        QueueMemory(length=8, banks=dict(g=4), dtypes=dict(g='int16'))
    with pytest.raises(ValueError, match=r"unknown banks \['q'\]"):
        QueueMemory(length=8, banks=dict(g=4), dtypes=dict(q='float16'))


def test_int8_bank_stores_a_quarter_and_dequantises_within_half_a_step():
    mem = QueueMemory(length=8, banks=dict(g=64, z=2), dtypes=dict(g='int8'))
    assert set(mem.state_dict()) == {'bank_g', 'scale_g', 'bank_z', 'ptr'}
    assert mem.state_dict()['bank_g'].dtype == torch.int8
    g = torch.relu(torch.randn(8, 64))  # non-negative, like pooled ReLU features
    mem.enqueue(g=g, z=torch.randn(8, 2))
    unit = F.normalize(g, dim=1)
    step = unit.abs().amax(dim=1, keepdim=True) / 127
    assert ((mem.bank('g') - unit).abs() <= step / 2 + 1e-7).all()
    assert mem.bank('g').dtype == torch.float32


@pytest.mark.parametrize('dtype', ['float32', 'bfloat16', 'int8'])
def test_similarity_survives_the_enqueue_before_backward(monkeypatch, dtype):
    """Value and gradient of query @ bank^T are those of the bank as it was in the forward,
    although the step's enqueue overwrites slots before backward and no copy of the bank is
    kept. Small chunks make the int8 path convert the bank in several pieces."""
    monkeypatch.setattr('mls_plugin.models.memories.queue_memory._CHUNK_ELEMENTS', 16)
    gen = torch.Generator().manual_seed(0)
    mem = QueueMemory(length=12, banks=dict(g=6), dtypes=dict(g=dtype))
    mem.enqueue(g=torch.randn(4, 6, generator=gen))  # ptr -> 4: the next write is slots 4..7
    before = mem.bank('g').float().clone()
    query = torch.randn(4, 6, generator=gen, requires_grad=True)
    out = mem.similarity('g', query)
    assert out.shape == (4, 12)
    tol = dict(rtol=1e-2, atol=1e-2) if dtype == 'bfloat16' else dict(rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.float(), query.detach() @ before.t(), **tol)
    weights = torch.randn(4, 12, generator=gen)
    mem.enqueue(g=torch.randn(4, 6, generator=gen))
    assert not torch.allclose(mem.bank('g').float()[4:8], before[4:8], atol=0.1)
    (out.float() * weights).sum().backward()
    torch.testing.assert_close(query.grad, weights @ before, **tol)


def test_similarity_of_more_queries_than_enqueued_keys():
    """A dense loss queries the B x S cells of B images and enqueues B keys: `batch_size`
    names the B, and the backward is that of the bank as it was in the forward."""
    gen = torch.Generator().manual_seed(0)
    mem = QueueMemory(length=12, banks=dict(d=6))
    mem.enqueue(d=torch.randn(4, 6, generator=gen))  # ptr -> 4: the next write is slots 4..7
    before = mem.bank('d').clone()
    cells = torch.randn(4 * 5, 6, generator=gen, requires_grad=True)
    with pytest.raises(ValueError, match=r'global batch \(20'):  # 20 rows taken for the batch
        mem.similarity('d', cells)
    out = mem.similarity('d', cells, batch_size=4)
    weights = torch.randn(20, 12, generator=gen)
    mem.enqueue(d=torch.randn(4, 6, generator=gen))
    assert not torch.allclose(mem.bank('d')[4:8], before[4:8], atol=0.1)
    (out * weights).sum().backward()
    torch.testing.assert_close(cells.grad, weights @ before)


def test_next_slots_follow_the_pointer_and_check_the_global_batch():
    mem = QueueMemory(length=8, banks=dict(z=2))
    assert mem.next_slots(4) == slice(0, 4)
    mem.enqueue(z=torch.randn(4, 2))
    assert mem.next_slots(4) == slice(4, 8)
    with pytest.raises(ValueError, match=r'`length` \(8\).*global batch \(3'):
        mem.next_slots(3)
    with pytest.raises(KeyError, match="no bank 'q'"):
        mem.similarity('q', torch.randn(4, 2))


def test_checkpoint_of_another_bank_dtype_is_converted_not_cast():
    """Resuming a float32 run with an int8 bank (or back) keeps the queue's rows; a plain
    cast would turn unit rows into int8 zeros."""
    g = torch.relu(torch.randn(8, 64))
    float_mem = QueueMemory(length=8, banks=dict(g=64, z=2))
    float_mem.enqueue(g=g, z=torch.randn(8, 2))
    int8_mem = QueueMemory(length=8, banks=dict(g=64, z=2), dtypes=dict(g='int8'))
    int8_mem.load_state_dict(float_mem.state_dict())  # strict: keys and shapes must match
    unit = F.normalize(g, dim=1)
    step = unit.abs().amax(dim=1, keepdim=True) / 127
    assert ((int8_mem.bank('g') - unit).abs() <= step / 2 + 1e-7).all()
    assert torch.equal(int8_mem.bank('z'), float_mem.bank('z'))

    back = QueueMemory(length=8, banks=dict(g=64, z=2), dtypes=dict(g='bfloat16'))
    back.load_state_dict(int8_mem.state_dict())
    assert 'scale_g' not in back.state_dict()
    torch.testing.assert_close(back.bank('g').float(), int8_mem.bank('g'), atol=4e-3, rtol=0)

    broken = int8_mem.state_dict()
    del broken['scale_g']
    with pytest.raises(KeyError, match='scale_g'):
        QueueMemory(length=8, banks=dict(g=64, z=2)).load_state_dict(broken)


@pytest.mark.parametrize(
    'device,length,chunks', [('meta', 65536, 16), ('cpu', 1024, 2), ('meta', 4096, 1)]
)
def test_low_precision_products_are_chunked_by_device(device, length, chunks):
    """At the largest queue of the lineage (D = 65536, d_g = 2048) a GPU-like device converts
    the bank in 16 chunks of 32 MiB in float32 (the paper's D = 4096 in one); a CPU takes
    cache-sized ones."""
    with torch.device(device):
        mem = QueueMemory(length=length, banks=dict(g=2048), dtypes=dict(g='bfloat16'))
    pieces = mem._chunk_slices('g')
    assert len(pieces) == chunks
    assert pieces[0].start == 0 and pieces[-1].stop >= length
    assert all(a.stop == b.start for a, b in zip(pieces, pieces[1:]))


def _resume_on_rank(rank, world, port, out):
    import torch.distributed as dist

    dist.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world
    )
    mem = QueueMemory(length=16, banks=dict(g=4, z=2))
    mem.load_state_dict(torch.load(f'{out}/world1.pth', weights_only=True))
    before = mem.bank('z').clone()
    query = torch.randn(4, 2, generator=torch.Generator().manual_seed(rank), requires_grad=True)
    # The head's order: the product, then this step's enqueue, then backward.
    products = mem.similarity('z', query)
    gen = torch.Generator().manual_seed(50 + rank)
    mem.enqueue(g=torch.randn(4, 4, generator=gen), z=torch.randn(4, 2, generator=gen))
    (products * torch.arange(16.0)).sum().backward()
    torch.save(
        dict(
            state={k: v.clone() for k, v in mem.state_dict().items()},
            grad=query.grad.clone(),
            expected_grad=(torch.arange(16.0) @ before).expand(4, -1).clone(),
            products=products.detach().clone(),
            expected_products=query.detach() @ before.t(),
        ),
        f'{out}/rank{rank}.pth',
    )
    dist.destroy_process_group()


def test_resume_at_a_larger_world_size_realigns_the_pointer(tmp_path, free_port):
    """A checkpoint of 1 x 2 keys a step, resumed on 2 ranks x 4 (global batch 8).

    Seven steps at world size 1 leave the pointer at 14: the first write of 8 keys would run
    past the end of the 16 slots (a shape error before the fix). It is moved back to 8, the
    write fills slots 8-15 with both ranks' keys, the rest of the queue is the checkpoint's, and
    the product taken before the write still gets the gradient of the queue it saw.
    """
    mem = QueueMemory(length=16, banks=dict(g=4, z=2))
    for step in range(7):
        gen = torch.Generator().manual_seed(step)
        mem.enqueue(g=torch.randn(2, 4, generator=gen), z=torch.randn(2, 2, generator=gen))
    assert int(mem.ptr) == 14
    saved = {k: v.clone() for k, v in mem.state_dict().items()}
    torch.save(saved, tmp_path / 'world1.pth')
    mp.spawn(_resume_on_rank, args=(2, free_port, str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f'rank{r}.pth', weights_only=True) for r in range(2)]
    new_z = []
    for rank in range(2):
        gen = torch.Generator().manual_seed(50 + rank)
        torch.randn(4, 4, generator=gen)  # the g keys, drawn first
        new_z.append(torch.randn(4, 2, generator=gen))
    for r in ranks:
        assert int(r['state']['ptr']) == 0  # 8 + 8 wraps to 0
        assert torch.equal(r['state']['bank_z'][:8], saved['bank_z'][:8])
        assert torch.allclose(r['state']['bank_z'][8:], F.normalize(torch.cat(new_z), dim=1))
        torch.testing.assert_close(r['products'], r['expected_products'])
        torch.testing.assert_close(r['grad'], r['expected_grad'])
    assert torch.equal(ranks[0]['state']['bank_z'], ranks[1]['state']['bank_z'])


def test_misaligned_pointer_warns_once_and_says_what_happened():
    from unittest import mock

    from mmengine.logging import MMLogger

    mem = QueueMemory(length=24, banks=dict(g=4, z=2))
    mem.enqueue(g=torch.randn(6, 4), z=torch.randn(6, 2))  # a batch of 6: pointer 6
    with mock.patch.object(MMLogger.get_current_instance(), 'log') as warning:
        assert mem.next_slots(4) == slice(4, 8)
        assert mem.next_slots(4) == slice(4, 8)
    assert warning.call_count == 1
    level, message = warning.call_args[0]
    assert level == 30  # logging.WARNING
    assert 'pointer 6' in message and 'global batch 4' in message
    assert 'slot 4' in message and '2 newest keys' in message
    assert int(mem.ptr) == 4


@pytest.mark.parametrize('dtype', ['int8', 'bfloat16'])
def test_a_converted_chunk_is_released_before_the_next_is_converted(monkeypatch, dtype):
    """The largest temporary of the products, the moments and the backward is one chunk.

    Every converted chunk is tracked by a weak reference; when the next one is made, none may
    still be alive (before the fix the loop variable kept the previous chunk while the next was
    converted: two chunks, the whole bank once a chunk was half of it, as on a GPU at D = 65536).
    """
    import weakref

    from mls_plugin.models.memories import queue_memory

    monkeypatch.setattr(queue_memory, '_CHUNK_ELEMENTS', 4 * 16)  # 4 rows of 16
    made, alive_at_conversion, sizes = [], [], []
    convert = queue_memory._converted

    def tracked(rows, dtype):
        alive_at_conversion.append(sum(ref() is not None for ref in made))
        out = convert(rows, dtype)
        sizes.append(out.numel())
        made.append(weakref.ref(out))
        return out

    monkeypatch.setattr(queue_memory, '_converted', tracked)
    mem = QueueMemory(length=32, banks=dict(g=16, z=2), dtypes=dict(g=dtype))
    query = torch.randn(4, 16, requires_grad=True)
    products = mem.similarity('g', query)
    mem.enqueue(g=torch.randn(4, 16), z=torch.randn(4, 2))
    products.sum().backward()
    mem.moments('g')
    assert len(sizes) == 3 * 8  # forward, backward and moments: 8 chunks each
    assert max(sizes) == 4 * 16
    assert max(alive_at_conversion) == 0
