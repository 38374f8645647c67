"""Which library makes MoCo-v2's views on the device: kornia's augmentation module or plain torch.

Times, per image (both views), the MoCo-v2 recipe made from a batch of float canvases by
``kornia.augmentation`` (RandomResizedCrop, ColorJitter p 0.8, RandomGrayscale p 0.2,
RandomGaussianBlur p 0.5, RandomHorizontalFlip) and by this plugin's
:func:`mls_plugin.models.data_preprocessors.mocov2_views` (plain batched torch ops). Without
kornia installed only the latter is timed. The numbers and the choice are in
docs/performance.md ("Views on the device").

Example:
    OMP_NUM_THREADS=1 python tools/benchmarks/gpu_views_library.py --sizes 64:128 224:448
"""

import argparse
import json
import time
from typing import Callable, Dict, Optional

import torch

from mls_plugin.models.data_preprocessors import MoCoV2Recipe, mocov2_views


def per_image_ms(make: Callable[[], torch.Tensor], batch: int, repeats: int) -> float:
    """Milliseconds per image of ``make`` (one warm-up call, then the mean of ``repeats``)."""
    make()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        make()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats / batch * 1000


def kornia_pipeline(size: int) -> Optional[torch.nn.Module]:
    """The MoCo-v2 recipe in kornia's augmentation module, None without kornia."""
    try:
        import kornia.augmentation as K
    except ImportError:
        return None
    return K.AugmentationSequential(
        K.RandomResizedCrop((size, size), scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3)),
        K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8),
        K.RandomGrayscale(p=0.2),
        K.RandomGaussianBlur((13, 13), (0.1, 2.0), p=0.5),
        K.RandomHorizontalFlip(p=0.5),
    )


def measure(size: int, canvas: int, batch: int, repeats: int, device: str) -> Dict[str, float]:
    """Per-image milliseconds (two views) of each implementation at one view/canvas size."""
    gen = torch.Generator(device=device).manual_seed(0)
    images = torch.rand(batch, 3, canvas, canvas, generator=gen, device=device)
    hw = torch.tensor([[canvas * 3 // 4, canvas]] * batch, device=device, dtype=torch.float64)
    recipe = MoCoV2Recipe()
    two = torch.cat([images, images])
    result = dict(
        view=size,
        canvas=canvas,
        batch=batch,
        torch_ms=per_image_ms(
            lambda: mocov2_views(two, hw.repeat(2, 1), hw.repeat(2, 1), gen, (size, size), recipe),
            batch,
            repeats,
        ),
    )
    aliased = MoCoV2Recipe(antialias=False)  # kornia's crop samples once per pixel too
    result['torch_no_antialias_ms'] = per_image_ms(
        lambda: mocov2_views(two, hw.repeat(2, 1), hw.repeat(2, 1), gen, (size, size), aliased),
        batch,
        repeats,
    )
    aug = kornia_pipeline(size)
    if aug is not None:
        aug = aug.to(device)
        result['kornia_ms'] = per_image_ms(lambda: aug(two), batch, repeats)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--sizes', nargs='+', default=['64:128', '224:448'], help='VIEW:CANVAS pairs, pixels'
    )
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--out', help='write the rows as JSON')
    args = parser.parse_args()
    rows = []
    for pair in args.sizes:
        view, canvas = (int(v) for v in pair.split(':'))
        row = measure(view, canvas, args.batch, args.repeats, args.device)
        rows.append(row)
        kornia = f'{row["kornia_ms"]:.2f}' if 'kornia_ms' in row else 'not installed'
        print(
            f'{args.device} view {view} px from a {canvas} px canvas, batch {args.batch}: '
            f'ms per image (two views): torch {row["torch_ms"]:.2f} (without antialiasing '
            f'{row["torch_no_antialias_ms"]:.2f}), kornia {kornia}',
            flush=True,
        )
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(device=args.device, torch_threads=torch.get_num_threads(), rows=rows), f)


if __name__ == '__main__':
    main()
