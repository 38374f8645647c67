"""Throughput of the MoCo-v2 two-view data pipeline: the CPU views against the device views.

Runs, in one process (one data-loader worker's work) and side by side:

- ``decode``: ``LoadImageFromFile`` alone;
- ``cpu_views``: the config's pipeline (decode + two augmented views + packing), what a
  worker does for the CPU path;
- ``canvas``: the GPU-views config's pipeline (decode + ``ResizeToCanvas`` + packing), what
  a worker does for the device path;
- ``device_side``: the device path's other half, ``MoCoV2TwoViewPreprocessor`` making the
  two views of collated canvases, timed here on the CPU (``--device cuda`` on a GPU), per
  image and in images/s.

Divide a GPU step's images/s by a path's per-worker images/s to get the workers it needs.

Example:
    OMP_NUM_THREADS=1 python tools/benchmarks/pipeline.py --data-root ../shared/data/coco_tiny \\
        --ann-file annotations/instances_train2017.json --data-prefix images/train2017/
    OMP_NUM_THREADS=1 python tools/benchmarks/pipeline.py \\
        --config configs/mls/small_scale/mls_resnet18_1xb32-coslr-40e_coco-scenes-64px.py \\
        --gpu-config \\
        configs/mls/small_scale/mls_resnet18_1xb32-coslr-40e_coco-scenes-64px-gpu-views.py \\
        --data-root ../shared/data/coco_scenes --ann-file annotations/instances_train.json \\
        --data-prefix images/train/
"""

import argparse
import json
import time

import torch
from mmengine.config import Config
from mmengine.dataset import Compose, default_collate
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS, MODELS

import mls_plugin  # noqa: F401

DEFAULT_CONFIG = 'configs/mls/mls_resnet50_8xb32-coslr-800e_coco.py'
DEFAULT_GPU_CONFIG = 'configs/mls/mls_resnet50_8xb32-coslr-800e_coco-gpu-views.py'


def images_per_second(dataset, pipeline, n: int) -> float:
    """Images/s of ``pipeline`` over the first ``n`` items of ``dataset`` (cycled)."""
    start = time.perf_counter()
    for i in range(n):
        pipeline(dataset.get_data_info(i % len(dataset)))
    return n / (time.perf_counter() - start)


def device_side_ms(dataset, pipeline, preprocessor, batch: int, repeats: int) -> float:
    """Milliseconds per image for the preprocessor to make both views of a collated batch."""
    data = default_collate(
        [pipeline(dataset.get_data_info(i % len(dataset))) for i in range(batch)]
    )
    preprocessor(data, True)  # warm-up (and the generator's creation)
    sync = torch.cuda.synchronize if preprocessor.device.type == 'cuda' else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        preprocessor(data, True)
    sync()
    return (time.perf_counter() - start) / repeats / batch * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='the CPU-views config')
    parser.add_argument('--gpu-config', default=DEFAULT_GPU_CONFIG, help='its GPU-views variant')
    parser.add_argument('--data-root', required=True)
    parser.add_argument('--ann-file', default='')
    parser.add_argument('--data-prefix', default='')
    parser.add_argument('--num', type=int, default=200, help='images per measurement')
    parser.add_argument('--batch', type=int, default=32, help="the device side's batch")
    parser.add_argument('--repeats', type=int, default=3, help="the device side's batches")
    parser.add_argument('--device', default='cpu', help='where the device side runs')
    parser.add_argument('--out')
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    gpu_cfg = Config.fromfile(args.gpu_config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    dataset = DATASETS.build(
        dict(
            type='SceneImageDataset',
            data_root=args.data_root,
            ann_file=args.ann_file,
            data_prefix=args.data_prefix,
        )
    )
    full = cfg.train_dataloader.dataset.pipeline
    canvas = Compose(gpu_cfg.train_dataloader.dataset.pipeline)
    preprocessor = MODELS.build(dict(gpu_cfg.data_preprocessor, seed=0)).to(args.device)
    result = dict(
        config=args.config,
        gpu_config=args.gpu_config,
        images=len(dataset),
        torch_threads=torch.get_num_threads(),
        decode_per_s=images_per_second(dataset, Compose([full[0]]), args.num),
        two_view_per_s=images_per_second(dataset, Compose(full), args.num),
        canvas_per_s=images_per_second(dataset, canvas, args.num),
        device=args.device,
        device_side_ms=device_side_ms(dataset, canvas, preprocessor, args.batch, args.repeats),
    )
    result['device_side_per_s'] = 1000 / result['device_side_ms']
    result['canvas_over_cpu_views'] = result['canvas_per_s'] / result['two_view_per_s']
    print(
        f'{len(dataset)} images, per data-loader worker: decode alone '
        f'{result["decode_per_s"]:.1f} img/s | CPU path (decode + two MoCo-v2 views) '
        f'{result["two_view_per_s"]:.1f} img/s | device path, CPU side (decode + canvas) '
        f'{result["canvas_per_s"]:.1f} img/s ({result["canvas_over_cpu_views"]:.1f}x) | '
        f'device path, views on {args.device}: {result["device_side_ms"]:.2f} ms/img '
        f'({result["device_side_per_s"]:.1f} img/s, batch {args.batch})'
    )
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)


if __name__ == '__main__':
    main()
