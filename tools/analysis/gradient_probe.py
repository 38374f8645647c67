"""Where each MLS loss term pushes the queries: per-term gradients on ``z1``.

For each checkpoint of an MLS run, a few augmented training batches are
encoded as in training (online ``g1, z1`` from view 1, key ``z2`` from view 2,
the checkpoint's own queue) and the gradients of ``loss_nce`` and ``loss_ml``
with respect to the normalised queries ``z1`` are taken separately, projected
on the sphere's tangent plane (the part that moves ``z1``). Per term:

- ``grad_norm``: mean per-query gradient norm;
- ``coherence``: ``|mean_b G_b|^2 / mean_b |G_b|^2``, the share of the push
  that is the same for every query (1: all queries are moved the same way;
  about ``1 / B`` for independent pushes). A push shared by all queries can be
  followed by a bias of the projector, without telling images apart;
- ``descent_vs_queue_mean``: cosine between the mean descent direction
  ``-mean_b G_b`` and the mean of the queue ``Q_z`` (-1: the term moves all
  queries straight away from where the lagging key encoder wrote the queue);
- ``cos_vs_nce``: mean over the queries of the cosine between the term's push
  and InfoNCE's (1: the term only repeats InfoNCE).

The paper's BCE is also split into its two parts, ``loss_ml.positive`` (the
pull towards the ``k`` pseudo-positives, ``y log s(p)``) and
``loss_ml.negative`` (the push away from the other ``D - k`` entries): their
gradients sum to the BCE's, and their norms say which one the BCE is.

Examples:
    python tools/analysis/gradient_probe.py work_dirs/run/config.py \\
        work_dirs/run/epoch_10.pth work_dirs/run/epoch_40.pth --out probe.json
    # what the BCE would push on an InfoNCE-only run's states
    python tools/analysis/gradient_probe.py work_dirs/infonce/config.py \\
        work_dirs/infonce/epoch_10.pth --bce
"""

import argparse
import json
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import Runner

import mls_plugin  # noqa: F401  (registers the components)
from mls_plugin.analysis import build_model
from mls_plugin.models.losses import MultiLabelBCELoss


def tangent(grad: torch.Tensor, z1: torch.Tensor) -> torch.Tensor:
    """The part of a gradient on the unit queries ``z1`` that moves them."""
    return grad - (grad * z1).sum(dim=1, keepdim=True) * z1


def term_stats(
    grad: torch.Tensor, z1: torch.Tensor, queue_mean: torch.Tensor, nce_grad: torch.Tensor
) -> Dict[str, float]:
    """Statistics of one term's ``(B, d)`` gradient on the unit queries ``z1``."""
    push = tangent(grad, z1)
    mean = push.mean(dim=0)
    energy = push.pow(2).sum(dim=1).mean()
    return dict(
        grad_norm=float(push.norm(dim=1).mean()),
        coherence=float(mean.pow(2).sum() / energy.clamp(min=1e-30)),
        descent_vs_queue_mean=float(F.cosine_similarity(-mean, queue_mean, dim=0)),
        cos_vs_nce=float(F.cosine_similarity(push, tangent(nce_grad, z1), dim=1).mean()),
    )


def bce_parts(
    head, z1: torch.Tensor, memory, pos_index: Optional[torch.Tensor]
) -> Optional[Dict[str, torch.Tensor]]:
    """The weighted BCE of ``head`` as its positive and negative parts (they sum to it).

    With ``s`` the sigmoid, ``-log s(p) = softplus(-p)`` on the ``k`` pseudo-positives and
    ``-log(1 - s(p)) = softplus(p)`` on the other entries, both over ``B x D`` as Eq. 9. Needs
    the head's pseudo-labels of the same call, ``pos_index`` (observed on its labeler, see
    :meth:`BaseLabeler.observe`). None where the head's
    BCE is not the paper's two-part one on ``z`` logits.
    """
    loss = head.loss_ml
    if (
        not isinstance(loss, MultiLabelBCELoss)
        or loss.positive_only
        or head.logit_source != 'z'
        or pos_index is None
    ):
        return None
    logits = memory.similarity('z', z1 / head.temperature)
    positive = torch.zeros_like(logits, dtype=torch.bool).scatter_(1, pos_index, True)
    weight = loss.loss_weight / logits.numel()
    return {
        'loss_ml.positive': weight * F.softplus(-logits[positive]).sum(),
        'loss_ml.negative': weight * F.softplus(logits[~positive]).sum(),
    }


def probe(cfg: Config, checkpoint: str, batches: int) -> Dict[str, Dict[str, float]]:
    model = build_model(cfg, checkpoint)
    model.train()  # batch statistics in BN, as in training; nothing is updated
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    queue_mean = model.memory.bank('z').float().mean(dim=0)
    positives = []
    model.head.labeler.observe(positives.append)
    stats: Dict[str, List[Dict[str, float]]] = {}
    for i, data in enumerate(loader):
        if i == batches:
            break
        data = model.data_preprocessor(data, True)
        views = data['inputs']
        with torch.no_grad():
            g1, z1 = model.encode(views[0], 'online')
            _, z2 = model.encode(views[1], 'key')
        z1 = z1.detach().requires_grad_()
        losses = model.head.loss(z1, z2, g1, model.memory)
        losses.update(bce_parts(model.head, z1, model.memory, positives[-1]) or {})
        grads = {
            name: torch.autograd.grad(value, z1, retain_graph=True)[0]
            for name, value in losses.items()
        }
        for name, grad in grads.items():
            stats.setdefault(name, []).append(
                term_stats(grad, z1.detach(), queue_mean, grads['loss_nce'])
            )
    return {
        name: {key: sum(s[key] for s in runs) / len(runs) for key in runs[0]}
        for name, runs in stats.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the run config (e.g. WORK_DIR/config.py)')
    parser.add_argument('checkpoints', nargs='+')
    parser.add_argument('--batches', type=int, default=4, help='training batches per checkpoint')
    parser.add_argument('--out', help='also write the results to this json file')
    parser.add_argument(
        '--bce',
        action='store_true',
        help="probe the paper's BCE (lambda 0.5) also where the run trained without it "
        '(head.loss_ml=None): what it would push at that state',
    )
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    if args.bce and cfg.model.head.get('loss_ml') is None:
        cfg.model.head.loss_ml = dict(type='MultiLabelBCELoss', loss_weight=0.5)
    results = {}
    for checkpoint in args.checkpoints:
        results[checkpoint] = probe(cfg, checkpoint, args.batches)
        for name, values in results[checkpoint].items():
            print(
                f'{checkpoint} {name}: '
                + ', '.join(f'{key} {value:.4g}' for key, value in values.items()),
                flush=True,
            )
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
