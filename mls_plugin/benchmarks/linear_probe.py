"""A linear multi-label classifier fitted on frozen features."""

import torch
import torch.nn.functional as F


def fit_linear_probe(
    feats: torch.Tensor,
    labels: torch.Tensor,
    steps: int = 500,
    lr: float = 0.01,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> torch.nn.Linear:
    """Fit ``Linear(d, C)`` with per-category sigmoid BCE, full batch.

    Features are standardised with their own mean and std (stored in the
    returned layer), the frozen-feature protocol of the VOC07 probes reduced
    to its convex core: no augmentation, so the fit is deterministic for a
    seed and takes seconds on cached features.

    Args:
        feats (Tensor): ``(N, d)`` training features.
        labels (Tensor): ``(N, C)`` multi-hot labels.
        steps (int): Adam steps. Defaults to 500.
        lr (float): Adam learning rate. Defaults to 0.01.
        weight_decay (float): L2 penalty. Defaults to 1e-4.
        seed (int): Seed of the initialisation. Defaults to 0.

    Returns:
        nn.Linear: The probe, taking raw (unstandardised) features.
    """
    mean, std = feats.mean(dim=0), feats.std(dim=0).clamp(min=1e-6)
    x = (feats - mean) / std
    generator = torch.Generator().manual_seed(seed)
    probe = torch.nn.Linear(feats.shape[1], labels.shape[1])
    with torch.no_grad():
        probe.weight.normal_(0, 0.01, generator=generator)
        probe.bias.zero_()
    optimizer = torch.optim.Adam(probe.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        optimizer.zero_grad()
        F.binary_cross_entropy_with_logits(probe(x), labels.float()).backward()
        optimizer.step()
    # Fold the standardisation into the layer: probe(raw) = W (raw - mean) / std + b.
    with torch.no_grad():
        probe.bias -= (probe.weight * (mean / std)).sum(dim=1)
        probe.weight /= std
    return probe
