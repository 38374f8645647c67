#!/usr/bin/env bash
# Distributed evaluation with torchrun, one or several nodes (as tools/dist_train.sh).
#
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]
set -euo pipefail
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
exec bash "$(dirname "$0")/dist_launch.sh" dist_test.sh "$GPUS" \
    test.py "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
