#!/usr/bin/env bash
# The GPU smoke test with the project's venv (falls back to `python`): bash tools/gpu_smoke.sh [--two-gpus ...]
ROOT="$(cd "$(dirname "$0")/.." && pwd)"; PY="$ROOT/.venv/bin/python"; [ -x "$PY" ] || PY=python
exec "$PY" "$ROOT/tools/gpu_smoke.py" "$@"
