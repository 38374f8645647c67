"""Extract the backbone of an MLS checkpoint into a tensors-only file.

The output is a flat ``{name: tensor}`` dict that loads with
``torch.load(path, weights_only=True)`` anywhere, without mmengine. Keys are
in the mmpretrain/mmdet/mmseg ResNet layout, which for ResNet is also the
torchvision layout: ``--torchvision`` checks that the file loads into
``torchvision.models.resnet{depth}`` with only ``fc.*`` left missing.

Examples:
    python tools/model_converters/extract_backbone_weights.py \\
        work_dirs/mls_800e/epoch_800.pth mls_r50_backbone.pth
    python tools/model_converters/extract_backbone_weights.py CKPT out.pth --torchvision
    python tools/model_converters/extract_backbone_weights.py CKPT out.pth --encoder momentum
"""

import argparse
import sys
from typing import Dict

import torch

import mls_plugin  # noqa: F401  (lets torch load mmengine runner checkpoints weights-only)

PREFIXES = {'online': 'backbone.', 'momentum': 'target_net.module.0.'}


def extract(checkpoint: str, encoder: str = 'online') -> Dict[str, torch.Tensor]:
    """The backbone tensors of ``checkpoint``, prefix stripped."""
    ckpt = torch.load(checkpoint, map_location='cpu', weights_only=True)
    state = ckpt.get('state_dict', ckpt)
    prefix = PREFIXES[encoder]
    backbone = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if not backbone:
        raise KeyError(f'{checkpoint} has no key starting with {prefix!r} ({encoder} encoder)')
    return {k: v.detach().clone().contiguous() for k, v in backbone.items()}


def check_torchvision(backbone: Dict[str, torch.Tensor]) -> str:
    """Load into the torchvision ResNet of matching depth; return its name."""
    import torchvision

    blocks = sum(1 for k in backbone if k.endswith('.conv1.weight') and k.startswith('layer'))
    bottleneck = any(k.endswith('conv3.weight') for k in backbone)
    depth = {(8, False): 18, (16, False): 34, (16, True): 50, (33, True): 101, (50, True): 152}
    name = f'resnet{depth.get((blocks, bottleneck), "?")}'
    if not hasattr(torchvision.models, name):
        raise ValueError(f'no torchvision ResNet has {blocks} blocks (bottleneck={bottleneck})')
    result = getattr(torchvision.models, name)().load_state_dict(backbone, strict=False)
    if result.unexpected_keys or set(result.missing_keys) != {'fc.weight', 'fc.bias'}:
        raise ValueError(
            f'not in torchvision {name} layout: missing {result.missing_keys[:5]}, '
            f'unexpected {result.unexpected_keys[:5]}'
        )
    return name


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('checkpoint', help='MLS runner checkpoint')
    parser.add_argument('output', help='where to write the backbone file')
    parser.add_argument('--encoder', choices=sorted(PREFIXES), default='online')
    parser.add_argument(
        '--torchvision',
        action='store_true',
        help='check that the file loads into the torchvision ResNet (all but fc)',
    )
    args = parser.parse_args(argv)
    backbone = extract(args.checkpoint, args.encoder)
    note = ''
    if args.torchvision:
        note = f', loads into torchvision.models.{check_torchvision(backbone)} (fc left out)'
    torch.save(backbone, args.output)
    print(f'wrote {len(backbone)} tensors of the {args.encoder} backbone to {args.output}{note}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
