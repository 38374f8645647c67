"""Throughput of the MoCo-v2 two-view data pipeline against image decoding alone.

Runs the pipeline of a pretraining config over real images in one process (one data-loader
worker's work) and reports images per second for ``LoadImageFromFile`` alone and for the full
pipeline (decode + two augmented views + packing). Divide the GPU step's images/s by the
pipeline's images/s to get the number of workers a GPU needs.

Example:
    python tools/benchmarks/pipeline.py --data-root ../shared/data/coco_tiny \\
        --ann-file annotations/instances_train2017.json --data-prefix images/train2017/
"""

import argparse
import json
import time

from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS

import mls_plugin  # noqa: F401

DEFAULT_CONFIG = 'configs/mls/mls_resnet50_8xb32-coslr-800e_coco.py'


def images_per_second(dataset, pipeline, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        pipeline(dataset.get_data_info(i % len(dataset)))
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--data-root', required=True)
    parser.add_argument('--ann-file', default='')
    parser.add_argument('--data-prefix', default='')
    parser.add_argument('--num', type=int, default=200, help='images per measurement')
    parser.add_argument('--out')
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
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
    decode = Compose([full[0]])
    result = dict(
        config=args.config,
        images=len(dataset),
        decode_per_s=images_per_second(dataset, decode, args.num),
        two_view_per_s=images_per_second(dataset, Compose(full), args.num),
    )
    print(
        f'{len(dataset)} images: decode alone {result["decode_per_s"]:.1f} img/s, '
        f'decode + two MoCo-v2 views {result["two_view_per_s"]:.1f} img/s per worker'
    )
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)


if __name__ == '__main__':
    main()
