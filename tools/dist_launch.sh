#!/usr/bin/env bash
# torchrun on this node, for tools/dist_train.sh and tools/dist_test.sh (their one launcher).
#
#   bash tools/dist_launch.sh CALLER GPUS SCRIPT [SCRIPT args...]
# CALLER names the user's script in errors; SCRIPT is a file of tools/. Several nodes: set
# NNODES, NODE_RANK and MASTER_ADDR (the node with NODE_RANK=0) on each, and PORT if 29500 is
# taken.
set -euo pipefail
CALLER=$1
GPUS=$2
SCRIPT=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
if [ "$NNODES" -gt 1 ] && [ -z "${MASTER_ADDR:-}" ]; then
    # torchrun would wait for a rendezvous on 127.0.0.1 that no other node can reach
    echo "tools/$CALLER: NNODES=$NNODES needs MASTER_ADDR, the address of the node" \
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
    "$ROOT/tools/$SCRIPT" "${@:4}"
