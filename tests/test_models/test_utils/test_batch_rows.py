"""Rows of a shuffled batch returned to their owners (one all-to-all) or gathered (all-gather).

Checked on 3 gloo ranks against mmpretrain's ``batch_unshuffle_ddp``, which all-gathers every
rank's rows and indexes them: the same rows, without receiving the other ranks' rows.
"""

import pytest
import torch
import torch.multiprocessing as mp
from mmpretrain.models.utils import batch_shuffle_ddp, batch_unshuffle_ddp

from mls_plugin.models.utils import gather_rows, unshuffle_own_rows

B = 5


def _rows_of(image_ids: torch.Tensor) -> dict:
    """Per-image tensors that name their image: a (B, 2, 3) float map and a (B,) int."""
    ids = image_ids.double()
    grid = ids[:, None, None] * 100 + torch.arange(6, dtype=torch.float64).reshape(1, 2, 3)
    return dict(grid=grid.float(), idx=image_ids.clone())


def _on_rank(rank, world, port, out, seed):
    import torch.distributed as dist

    dist.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world
    )
    torch.manual_seed(seed)  # rank 0's permutation is the one broadcast
    own_ids = torch.arange(rank * B, (rank + 1) * B)
    shuffled_ids, idx_unshuffle = batch_shuffle_ddp(own_ids)
    computed = _rows_of(shuffled_ids)  # what a key encoder computed on the shuffled rows
    calls = []
    real = dist.all_to_all_single

    def spy(output, input, *args, **kwargs):
        calls.append(input.shape[0])
        return real(output, input, *args, **kwargs)

    dist.all_to_all_single = spy
    try:
        own = unshuffle_own_rows(idx_unshuffle, **computed)
    finally:
        dist.all_to_all_single = real
    reference = {k: batch_unshuffle_ddp(v, idx_unshuffle) for k, v in computed.items()}
    gathered = gather_rows(**computed)
    torch.save(
        dict(
            own=own,
            reference=reference,
            own_ids=own_ids,
            calls=calls,
            gathered=gathered,
            shuffled_ids=shuffled_ids,
        ),
        f'{out}/rank{rank}.pt',
    )
    dist.destroy_process_group()


@pytest.mark.slow
def test_each_rank_gets_its_own_rows_back_as_batch_unshuffle_ddp_does(tmp_path, free_port):
    world = 3
    mp.spawn(_on_rank, args=(world, free_port, str(tmp_path), 7), nprocs=world, join=True)
    ranks = [torch.load(tmp_path / f'rank{r}.pt', weights_only=True) for r in range(world)]
    moved = 0
    for r, result in enumerate(ranks):
        own, reference = result['own'], result['reference']
        # The promoted dtype of the packed tensors (float32 with int64 -> float32), values exact.
        assert torch.equal(own['idx'].long(), result['own_ids']), r
        assert torch.equal(own['idx'].long(), reference['idx']), r
        assert own['grid'].shape == (B, 2, 3)
        torch.testing.assert_close(own['grid'], reference['grid'], rtol=0, atol=0)
        torch.testing.assert_close(own['grid'], _rows_of(result['own_ids'])['grid'])
        assert result['calls'] == [B]  # one all-to-all, of this rank's B rows
        moved += int((result['shuffled_ids'] // B != r).sum())
        # gather_rows: every rank's rows in rank order.
        everyone = torch.cat([x['shuffled_ids'] for x in ranks])
        assert torch.equal(result['gathered']['idx'].long(), everyone)
    assert moved > 0  # the permutation sent rows across ranks (seed 7), else nothing is tested


def test_one_process_unshuffles_locally():
    ids = torch.arange(6)
    idx_shuffle = torch.tensor([4, 0, 5, 2, 1, 3])
    shuffled = _rows_of(ids[idx_shuffle])
    own = unshuffle_own_rows(torch.argsort(idx_shuffle), **shuffled)
    assert torch.equal(own['idx'], ids)
    torch.testing.assert_close(own['grid'], _rows_of(ids)['grid'])
