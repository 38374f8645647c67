"""Collect the downstream stand-in runs into result.json files that paired_differences reads.

Detection runs (``tools/train.py`` of
``configs/benchmarks/small_scale/faster-rcnn_*``) are read from
``DET_ROOT/<variant>/seed<k>/*/vis_data/scalars.json`` (the final COCO box AP, which mmdet
rounds to 0.001, i.e. 0.1 AP); VOC SVM runs (``tools/benchmarks/svm_voc07.py --out``) from
``SVM_ROOT/<variant>_seed<k>_<res>px.json``. Each becomes
``OUT/<task>/<variant>/seed<k>/result.json`` with ``dataset``, ``variant``, ``seed`` and the
metric in percent, and the paired tables are printed (``paired_differences.py``), once per
``--baselines``.

    python tools/analysis/collect_downstream.py --det-root work_dirs/downstream_cpu/det \\
        --svm-root docs/experiments/downstream_cpu/svm --out docs/experiments/downstream_cpu \\
        --markdown docs/experiments/downstream_cpu/paired.md
"""

import argparse
import glob
import json
import os
import os.path as osp
import re
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from paired_differences import load, markdown  # noqa: E402


def detection_results(root: str) -> list:
    results = []
    for path in sorted(glob.glob(osp.join(root, '*', 'seed*', '*', 'vis_data', 'scalars.json'))):
        variant, seed = path[len(root) :].strip(os.sep).split(os.sep)[:2]
        with open(path) as f:
            rows = [json.loads(line) for line in f if 'coco/bbox_mAP' in line]
        if rows:
            results.append(
                dict(
                    task='det',
                    dataset='voc_animals',
                    variant=variant,
                    seed=int(seed[len('seed') :]),
                    det_bbox_map=100 * rows[-1]['coco/bbox_mAP'],
                    det_bbox_map50=100 * rows[-1]['coco/bbox_mAP_50'],
                    source=path,
                )
            )
    return results


def svm_results(root: str) -> list:
    results = []
    for path in sorted(glob.glob(osp.join(root, '*_seed*_*px.json'))):
        match = re.fullmatch(r'(.+)_seed(\d+)_(\d+)px\.json', osp.basename(path))
        with open(path) as f:
            run = json.load(f)
        results.append(
            dict(
                task=f'svm_{match.group(3)}px',
                dataset=f'voc_animals {match.group(3)} px',
                variant=match.group(1),
                seed=int(match.group(2)),
                svm_map=run['mAP'],
                svm_classes=sorted(run['classes']),
                source=path,
            )
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--det-root', required=True)
    parser.add_argument('--svm-root', required=True)
    parser.add_argument('--out', required=True, help='result.json files go below it')
    parser.add_argument(
        '--baselines', nargs='+', default=['infonce', 'random'], help='one table set for each'
    )
    parser.add_argument('--markdown', help='also write the tables to this file')
    args = parser.parse_args()
    for r in detection_results(args.det_root) + svm_results(args.svm_root):
        folder = osp.join(args.out, r['task'], r['variant'], f'seed{r["seed"]}')
        os.makedirs(folder, exist_ok=True)
        with open(osp.join(folder, 'result.json'), 'w') as f:
            json.dump(r, f, indent=1)
    tasks = [t for t in sorted(os.listdir(args.out)) if t.startswith(('det', 'svm_'))]
    text = '\n'.join(
        f'## Paired to {baseline}\n\n'
        + '\n'.join(markdown(load(osp.join(args.out, task)), baseline) for task in tasks)
        for baseline in args.baselines
    )
    print(text)
    if args.markdown:
        with open(args.markdown, 'w') as f:
            f.write(text + '\n')


if __name__ == '__main__':
    main()
