#!/usr/bin/env bash
# Set up the project's virtual environment (.venv) from nothing; idempotent.
#
#   bash tools/install.sh            # first run ~10 min on 2 CPU cores (mmcv build ~6 min)
#
# A second run returns in seconds: the venv carries a stamp of the requirement
# files, and the mmcv wheel (built from its sdist with ops, the slow part) is
# cached outside the repo in $MLS_CACHE (default ~/.cache/mls_plugin) and reused.
# On a machine with CUDA (nvcc + a GPU visible to torch) the same script builds
# mmcv's CUDA ops; the cache key records which flavour a wheel is.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MLS_VENV:-$ROOT/.venv}"
CACHE="${MLS_CACHE:-$HOME/.cache/mls_plugin}"
PYTHON="${PYTHON:-python3}"
REQ="$ROOT/requirements"

stamp_of() {
  cat "$REQ"/*.txt "$ROOT/setup.py" "$0" | sha256sum | cut -c1-16
}
STAMP="$(stamp_of)"
if [[ -f "$VENV/.mls_installed" && "$(cat "$VENV/.mls_installed")" == "$STAMP" ]]; then
  echo "[install] $VENV is up to date (stamp $STAMP)"
  exit 0
fi

start=$(date +%s)
log() { echo "[install +$(($(date +%s) - start))s] $*"; }

[[ -x "$VENV/bin/python" ]] || { log "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

log "torch + torchvision"
"${PIP[@]}" install -q -r "$REQ/torch.txt"
log "build tools"
"${PIP[@]}" install -q -r "$REQ/build.txt"

TORCH_TAG="$("$VENV/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])')"
if command -v nvcc >/dev/null 2>&1 && "$VENV/bin/python" -c 'import torch,sys; sys.exit(not torch.cuda.is_available())'; then
  FLAVOUR=cuda
  export FORCE_CUDA=1
  export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-$("$VENV/bin/python" -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability())')}"
else
  FLAVOUR=cpu
fi
PYTAG="$("$VENV/bin/python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
WHEELS="$CACHE/mmcv-2.1.0-$PYTAG-torch$TORCH_TAG-$FLAVOUR"
if ! ls "$WHEELS"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
  log "building mmcv 2.1.0 with $FLAVOUR ops into $WHEELS (about 6 min on 2 cores)"
  mkdir -p "$WHEELS.tmp"
  MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" "${PIP[@]}" wheel -q --no-deps \
    --no-build-isolation --no-binary mmcv mmcv==2.1.0 -w "$WHEELS.tmp"
  rm -rf "$WHEELS" && mv "$WHEELS.tmp" "$WHEELS"   # atomic: a killed build leaves no half cache
else
  log "reusing cached mmcv wheel from $WHEELS"
fi

log "OpenMMLab stack + test tools"
"${PIP[@]}" install -q --find-links "$WHEELS" -r "$REQ/runtime.txt" -r "$REQ/tests.txt"
log "mls_plugin (editable)"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"
"$VENV/bin/python" -c 'import mmcv.ops, mmdet, mmseg, mmpretrain, mls_plugin; print("[install] imports ok: mmcv", mmcv.__version__, "torch", __import__("torch").__version__)'
echo "$STAMP" > "$VENV/.mls_installed"
log "done"
