"""How far a low-precision pseudo-label bank changes MLS's pseudo-labels.

MLS ranks its queue ``Q_g`` to pick each query's ``k`` pseudo-positives. Storing the bank
in bfloat16 or int8 (``QueueMemory(dtypes=dict(g=...))``) saves memory; this script
measures what it costs in labels, on the real features a training run left in its queue:
every queue row is a query against all the others (its own slot excluded), ranked once
against the float32 bank and once against the same rows stored in each low precision.
It prints the mean overlap of the two top-k sets (1.0 = identical labels) and writes JSON.

Example:
    python tools/benchmarks/label_agreement.py work_dirs/demo/epoch_50.pth --out agree.json
"""

import argparse
import json

import torch

from mls_plugin.models import QueueMemory, TopKLabeler


def load_bank(checkpoint: str) -> torch.Tensor:
    """The rows of the queue's ``g`` bank in a runner checkpoint, in float32.

    The checkpoint's queue is loaded into a float32 ``QueueMemory``, which dequantises a
    bank saved in int8.
    """
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)
    state = state.get('state_dict', state)
    queue = {k[len('memory.') :]: v for k, v in state.items() if k.startswith('memory.')}
    if 'bank_g' not in queue:
        raise KeyError(f'{checkpoint}: no `memory.bank_g` in the state dict; is it an MLS run?')
    banks = {k[len('bank_') :]: v.shape[1] for k, v in queue.items() if k.startswith('bank_')}
    memory = QueueMemory(length=len(queue['bank_g']), banks=banks)
    queue.setdefault('ptr', memory.ptr)
    memory.load_state_dict(queue)
    return memory.bank('g')


def topk_without_self(memory: QueueMemory, queries: torch.Tensor, start: int, k: int):
    scores = memory.similarity('g', queries).float()
    scores[torch.arange(len(queries)), torch.arange(start, start + len(queries))] = -float('inf')
    return TopKLabeler()(scores, k)  # the pseudo-labels' rule, as training applies it


def agreement(bank: torch.Tensor, dtype: str, ks, batch: int = 256) -> dict:
    length, dim = bank.shape
    memories = {}
    for name in ('float32', dtype):
        memories[name] = QueueMemory(length=length, banks=dict(g=dim), dtypes=dict(g=name))
        memories[name].enqueue(g=bank)
    overlap = {k: 0.0 for k in ks}
    with torch.no_grad():
        for start in range(0, length, batch):
            queries = memories['float32'].bank('g')[start : start + batch]
            for k in ks:
                ref = topk_without_self(memories['float32'], queries, start, k)
                low = topk_without_self(memories[dtype], queries, start, k)
                same = (ref[:, :, None] == low[:, None, :]).any(dim=2).sum().item()
                overlap[k] += same / k
    return {k: v / length for k, v in overlap.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('checkpoint', help='runner checkpoint of an MLS training run')
    parser.add_argument('--dtypes', nargs='+', default=['bfloat16', 'int8'])
    parser.add_argument('--topks', type=int, nargs='+', default=[1, 20, 40])
    parser.add_argument('--out', help='write the results as JSON here')
    args = parser.parse_args()
    bank = load_bank(args.checkpoint)
    results = dict(checkpoint=args.checkpoint, queue=list(bank.shape), overlap={})
    for dtype in args.dtypes:
        results['overlap'][dtype] = agreement(bank, dtype, args.topks)
        cells = ', '.join(f'k={k}: {v:.4f}' for k, v in results['overlap'][dtype].items())
        print(f'Q_g {bank.shape[0]} x {bank.shape[1]}, {dtype} vs float32 top-k overlap: {cells}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)


if __name__ == '__main__':
    main()
