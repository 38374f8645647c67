#!/usr/bin/env bash
# MLS against InfoNCE only on coco_scenes in at most eight minutes of one GPU (issue 27):
# GPU-resident uint8 canvases, the views made on the GPU, kNN / linear-probe results of
# tools/analysis/compare_pretraining.py copied to docs/results/gpu/study/.
#   bash tools/gpu_study.sh            # run the plan
#   bash tools/gpu_study.sh --plan     # print it (epochs, seeds, estimated time), train nothing
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" tools/gpu_study.py "$@"
