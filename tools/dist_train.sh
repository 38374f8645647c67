#!/usr/bin/env bash
# Distributed training with torchrun, one or several nodes.
#
#   bash tools/dist_train.sh CONFIG GPUS [train.py args...]
#   # two nodes of 8 GPUs (run on each node, NODE_RANK=0 on the master):
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 bash tools/dist_train.sh CONFIG 8
set -euo pipefail
CONFIG=$1
GPUS=$2
exec bash "$(dirname "$0")/dist_launch.sh" dist_train.sh "$GPUS" \
    train.py "$CONFIG" --launcher pytorch "${@:3}"
