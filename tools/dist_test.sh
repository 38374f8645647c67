#!/usr/bin/env bash
# Distributed evaluation with torchrun.
#
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]
set -euo pipefail
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
if [ "$NNODES" -gt 1 ] && [ -z "${MASTER_ADDR:-}" ]; then
    # torchrun would wait for a rendezvous on 127.0.0.1 that no other node can reach
    echo "tools/dist_test.sh: NNODES=$NNODES needs MASTER_ADDR, the address of the node" \
        "with NODE_RANK=0 (reachable from every node)" >&2
    exit 2
fi
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-python}

PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$ROOT/tools/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
