#!/usr/bin/env bash
# The GPU smoke test on a host that has a CUDA torch but no network and no OpenMMLab stack
# (a lent or air-gapped GPU node): install the wheels of WHEEL_DIR into a private target
# folder, check that the stack imports, then run tools/gpu_smoke.py with the rest of the args.
#
#   bash tools/gpu_smoke_from_wheels.sh WHEEL_DIR [gpu_smoke.py args...]
#
# WHEEL_DIR holds, for the host's Python: mmengine, mmpretrain, mmdet, mmsegmentation and their
# pure-Python needs, and mmcv; an mmcv-lite wheel (`MMCV_WITH_OPS=0 pip wheel mmcv==2.1.0`,
# seconds to build, no compiled ops) runs everything but the mmcv_ops and mask_rcnn_iter checks.
# A numpy 1.x wheel there is used when the host's torch, cv2 and matplotlib import with it (mmcv
# 2.1.0's hue jitter overflows under NumPy 2), else dropped with a warning; the host's scipy may
# need NumPy 2, but pretraining does not import scipy (mmdet and mmseg do: not checked then).
set -euo pipefail
[ $# -ge 1 ] && [ -d "$1" ] || { echo "usage: $0 WHEEL_DIR [gpu_smoke.py args...]" >&2; exit 2; }
WHEELS=$1
shift
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SITE=${MLS_WHEEL_SITE:-/tmp/mls_site}
PY=${PYTHON:-python3}
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" "$WHEELS"/*.whl
export PYTHONPATH="$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHON="$PY"
# mmpretrain 1.2.0 imports its multimodal models when it finds transformers >= 4.28, and they fail
# under transformers 5 (BertPreTrainedModel(None)): a metadata-only entry first on the path
# (version 0) makes its dependency check skip them; transformers itself is left as it is.
if "$PY" -c 'import importlib.metadata as m, sys
sys.exit(int(m.version("transformers").split(".")[0]) < 5)' 2>/dev/null; then
    mkdir -p "$SITE/transformers-0.dist-info"
    printf 'Metadata-Version: 2.1\nName: transformers\nVersion: 0\n' \
        >"$SITE/transformers-0.dist-info/METADATA"
    echo "gpu_smoke_from_wheels: transformers >= 5 here: hidden from mmpretrain's check" >&2
fi
if ! "$PY" -c 'import numpy, torch, cv2, matplotlib.pyplot  # what pretraining imports
assert torch.from_numpy(numpy.ones(2)).sum().item() == 2 and torch.ones(2).numpy().sum() == 2'; then
    echo "gpu_smoke_from_wheels: the host's packages do not import with the carried numpy;" \
        "dropping it (NumPy 2: mmcv's hue jitter may overflow)" >&2
    rm -rf "$SITE"/numpy "$SITE"/numpy-* "$SITE"/numpy.libs
fi
"$PY" -c 'import numpy, torch, mmcv, mmengine, mmpretrain, mls_plugin
print(f"stack: torch {torch.__version__} numpy {numpy.__version__} mmcv {mmcv.__version__}"
      f" mmengine {mmengine.__version__} mmpretrain {mmpretrain.__version__}")'
exec "$PY" "$ROOT/tools/gpu_smoke.py" --python "$PY" "$@"
