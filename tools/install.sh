#!/usr/bin/env bash
# Set up the project's virtual environment (.venv) from nothing; idempotent.
#
#   bash tools/install.sh              # pretraining: torch, mmengine, mmpretrain and mmcv WITHOUT
#                                      # compiled ops (what `make demo` needs); ~2 min on 2 cores
#   bash tools/install.sh --full       # + mmcv's compiled ops, for detection / segmentation and
#                                      # the tests (`make setup-full`); CPU ops ~6 min on 2 cores
#   bash tools/install.sh [--full] --plan   # print the decisions (or the error); installs nothing
#
# A second run returns in seconds: the venv carries a stamp of the requirement files and of the
# plan, and the mmcv wheels (built from mmcv's sdist, the slow part with ops) are cached outside
# the repo in $MLS_CACHE (default ~/.cache/mls_plugin) and reused.
#
# Choices (all optional), by environment variable:
#   MLS_TORCH_CUDA   which torch build: pypi (default: PyPI's default Linux wheel, CUDA 13.0 for
#                    torch 2.13.0, needs driver R580+, no V100/P100), cu126, cu128, cu130 (from
#                    download.pytorch.org/whl/<variant>, same versions) or cpu. On this project's
#                    registry (2026-11-26) only pypi installs: download.pytorch.org is unreachable
#                    there (and /opt/wheels' torch+cpu has no torchvision), so the other
#                    variants are a step for a GPU cluster that reaches download.pytorch.org.
#   MLS_MMCV_FLAVOUR --full only, mmcv's ops: cpu or cuda. Unset: cuda when torch is a CUDA build,
#                    nvcc is found and a GPU is visible or FORCE_CUDA=1 (mmcv's own rule: set
#                    FORCE_CUDA=1 on a login node without a GPU), else cpu.
#   TORCH_CUDA_ARCH_LIST  GPU archs of the CUDA build; default: the visible GPUs', else a list of
#                    common data-centre GPUs for torch's CUDA; "+PTX" is always appended so that
#                    newer GPUs JIT-compile.
# Driver and nvcc are checked against the torch build before anything is installed, and before a
# CUDA build a probe of a few seconds (tools/cuda_header_probe.py) checks that nvcc finds the
# CUDA libraries' headers, taking them from torch's NVIDIA wheels where the toolkit lacks them.
# The mmcv cache and the stamp are keyed by variant, flavour, arch list and nvcc version.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MLS_VENV:-$ROOT/.venv}"
CACHE="${MLS_CACHE:-$HOME/.cache/mls_plugin}"
PYTHON="${PYTHON:-python3}"
REQ="$ROOT/requirements"
PYPI_TORCH_CUDA=13.0   # CUDA of PyPI's default torch wheel for the version in requirements/torch.txt
MMCV=2.1.0

die() { echo "[install] error: $*" >&2; exit 1; }
pin() { sed -n "s/^$1==\([0-9][0-9.]*\).*/\1/p" "$REQ/torch.txt"; }
TORCH_TAG="$(pin torch)"

TIER=pretrain PLAN=no
for arg in "$@"; do
  case "$arg" in
    --full) TIER=full ;;
    --plan) PLAN=yes ;;
    *) die "unknown argument '$arg' (only --full and --plan)" ;;
  esac
done

# --- the plan: torch variant, driver, nvcc, flavour, arch list (no torch needed) ---
VARIANT="${MLS_TORCH_CUDA:-pypi}"
case "$VARIANT" in
  pypi) TORCH_CUDA="$PYPI_TORCH_CUDA" INDEX=default ;;
  cu126 | cu128 | cu130) v="${VARIANT#cu}" && TORCH_CUDA="${v:0:-1}.${v: -1}" ;;   # cu126 -> 12.6
  cpu) TORCH_CUDA=none ;;
  *) die "MLS_TORCH_CUDA='$VARIANT' is not one of: pypi (default, CUDA $PYPI_TORCH_CUDA)," \
    "cu126, cu128, cu130, cpu" ;;
esac
[[ "$VARIANT" == pypi ]] || INDEX="https://download.pytorch.org/whl/$VARIANT"
TORCH_MAJOR="${TORCH_CUDA%%.*}"

# The driver's highest CUDA is in nvidia-smi's header; a failing nvidia-smi means no usable GPU.
DRIVER_CUDA=none GPU=none
if SMI="$(nvidia-smi 2>/dev/null)"; then
  DRIVER_CUDA="$(sed -n 's/.*CUDA Version: *\([0-9][0-9.]*\).*/\1/p' <<<"$SMI" | head -n1)"
  GPU="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | sort -u | paste -sd';')"
  DRIVER_CUDA="${DRIVER_CUDA:-none}" GPU="${GPU:-none}"
fi
if [[ "$TORCH_CUDA" != none && "$DRIVER_CUDA" != none ]] && ((${DRIVER_CUDA%%.*} < TORCH_MAJOR)); then
  die "the NVIDIA driver supports CUDA up to $DRIVER_CUDA, but MLS_TORCH_CUDA=$VARIANT is torch" \
    "built with CUDA $TORCH_CUDA: choose MLS_TORCH_CUDA=cu126 or cu128 (CUDA 12 runs on any 12.x" \
    "driver) or cpu, or update the driver (CUDA 13 needs R580+)"
fi

# torch's cpp_extension builds with $CUDA_HOME/bin/nvcc if CUDA_HOME is set, else nvcc on PATH.
NVCC_BIN="$(command -v "${CUDA_HOME:+$CUDA_HOME/bin/}nvcc" || true)" NVCC=none
[[ -z "$NVCC_BIN" ]] || NVCC="$("$NVCC_BIN" --version | sed -n 's/.*release \([0-9][0-9.]*\),.*/\1/p')"
NVCC="${NVCC:-unknown}"

# mmcv's ops: none for pretraining; with --full as mmcv's own setup.py decides (CUDA where a GPU
# is visible or FORCE_CUDA=1), so a CPU machine that happens to have nvcc builds CPU ops.
if [[ "$TIER" == pretrain ]]; then
  FLAVOUR=none
else
  case "${MLS_MMCV_FLAVOUR:-}" in
    cpu | cuda) FLAVOUR="$MLS_MMCV_FLAVOUR" ;;
    '') FLAVOUR=cpu
        if [[ "$TORCH_CUDA" != none && ("${FORCE_CUDA:-0}" == 1 || ("$NVCC" != none && "$GPU" != none)) ]]
        then FLAVOUR=cuda; fi ;;
    *) die "MLS_MMCV_FLAVOUR='$MLS_MMCV_FLAVOUR' is not one of: cpu, cuda" \
      "(unset: cuda where a GPU is visible or FORCE_CUDA=1, else cpu)" ;;
  esac
fi
if [[ "$FLAVOUR" == cuda ]]; then
  [[ "$TORCH_CUDA" != none ]] || die "mmcv's CUDA ops need a CUDA torch, not MLS_TORCH_CUDA=cpu:" \
    "choose another MLS_TORCH_CUDA, or drop FORCE_CUDA=1 / MLS_MMCV_FLAVOUR=cuda"
  [[ "$NVCC" != none ]] || die "mmcv's CUDA ops need nvcc $TORCH_MAJOR.x (torch's CUDA is" \
    "$TORCH_CUDA), none found on PATH or in CUDA_HOME: put it first on PATH, or set" \
    "MLS_MMCV_FLAVOUR=cpu"
  # torch's cpp_extension refuses an nvcc of another major CUDA version than torch's.
  if [[ "${NVCC%%.*}" != "$TORCH_MAJOR" ]]; then
    if [[ "${NVCC%%.*}" == 12 ]]; then MATCH='cu126 or cu128'; else MATCH='pypi or cu130'; fi
    die "nvcc $NVCC ($NVCC_BIN) is not CUDA $TORCH_MAJOR like torch (MLS_TORCH_CUDA=$VARIANT," \
      "CUDA $TORCH_CUDA), and torch builds mmcv only with nvcc of its major version: put nvcc" \
      "$TORCH_MAJOR.x first on PATH (or in CUDA_HOME), or choose MLS_TORCH_CUDA=$MATCH to match" \
      "nvcc $NVCC, or set MLS_MMCV_FLAVOUR=cpu"
  fi
  # Arch list: as given, else the visible GPUs', else common data-centre GPUs for this CUDA.
  if [[ -n "${TORCH_CUDA_ARCH_LIST:-}" ]]; then ARCH="${TORCH_CUDA_ARCH_LIST// /;}"
  elif [[ "$GPU" != none ]]; then ARCH="$GPU"
  elif ((TORCH_MAJOR >= 13)); then ARCH="7.5;8.0;8.6;9.0"   # T4, A100, A10/A40, H100 (no sm_70 in 13)
  else ARCH="7.0;7.5;8.0;8.6;9.0"; fi                        # the same + V100
  [[ "$ARCH" == *+PTX ]] || ARCH="$ARCH+PTX"                 # newer GPUs JIT-compile the PTX
  KEY="$VARIANT-cuda-nvcc$NVCC-sm$(tr -d . <<<"${ARCH//;/_}")"
elif [[ "$FLAVOUR" == cpu ]]; then
  ARCH=none KEY=cpu                                          # pypi: the cache key of before
  [[ "$VARIANT" == pypi ]] || KEY="$VARIANT-cpu"
else
  ARCH=none KEY=noops                                        # pure Python, any torch
fi
PY="$PYTHON"
[[ ! -x "$VENV/bin/python" ]] || PY="$VENV/bin/python"
PYTAG="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
WHEELS="$CACHE/mmcv-$MMCV-$PYTAG-torch$TORCH_TAG-$KEY"

# Build time, said before the build starts: measured core-seconds over this machine's cores.
# CPU ops: 375 s on 2 cores. CUDA ops: the CPU ops plus ~2,400 core-s per GPU target (the PTX one
# too): mmcv 2.1.0 has 56 .cu files, and one (roi_align_cuda.cu, nms_cuda.cu) took 50-72 s of a
# loaded core for one arch with nvcc 13.0 (2026-12-06).
CORES="$(nproc)"
N_ARCH=0
[[ "$ARCH" == none ]] || N_ARCH=$(($(tr ';' '\n' <<<"${ARCH%+PTX}" | wc -l) + 1))
case "$FLAVOUR" in
  none) BUILD_MIN=1 ;;
  cpu) BUILD_MIN=$(((750 / CORES + 59) / 60)) ;;
  cuda) BUILD_MIN=$((((750 + 2400 * N_ARCH) / CORES + 59) / 60)) ;;
esac

# Two stamps: the base (torch, OpenMMLab stack, this package) and the ops (mmcv's compiled ops,
# --full). A full venv is up to date for the pretraining tier too.
BASE_STAMP="$({ cat "$REQ"/*.txt "$ROOT/setup.py" "${BASH_SOURCE[0]}"; echo "$VARIANT"; } \
  | sha256sum | cut -c1-16)"
OPS_STAMP="$(echo "$BASE_STAMP $FLAVOUR $ARCH $NVCC" | sha256sum | cut -c1-16)"
STAMP="$BASE_STAMP"
[[ "$TIER" == pretrain ]] || STAMP="$BASE_STAMP-$OPS_STAMP"
installed() { cat "$VENV/$1" 2>/dev/null || true; }
UP_TO_DATE=no
if [[ "$(installed .mls_installed)" == "$BASE_STAMP" ]]; then
  [[ "$TIER" == pretrain || "$(installed .mls_ops_installed)" == "$OPS_STAMP" ]] && UP_TO_DATE=yes
fi

# The CUDA headers probe needs torch's include files: run where torch is installed (in --plan
# only if the venv already has it), always before a CUDA build.
CUDA_HEADERS=unchecked EXTRA_INCLUDE=
probe_cuda_headers() {
  local out
  out="$("$VENV/bin/python" "$ROOT/tools/cuda_header_probe.py" --nvcc "$NVCC_BIN" 2>/tmp/mls_probe.$$)" \
    || { local why; why="$(grep -v 'No CUDA runtime is found' /tmp/mls_probe.$$ | tail -n1)"
         rm -f /tmp/mls_probe.$$
         die "$why. mmcv's CUDA build would fail after minutes. Ways out: set" \
           "MLS_MMCV_FLAVOUR=cpu (CPU ops: everything but GPU training and testing of detection" \
           "and segmentation), or install the full CUDA toolkit $TORCH_MAJOR.x (with its" \
           "libraries' headers, e.g. the cuda-libraries-dev package) and put its nvcc first on PATH"; }
  rm -f /tmp/mls_probe.$$
  CUDA_HEADERS="$out"
  [[ "$out" != extra_include=* ]] || EXTRA_INCLUDE="${out#extra_include=}"
}
if [[ "$PLAN" == yes && "$FLAVOUR" == cuda ]] && "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
  probe_cuda_headers
fi

if [[ "$PLAN" == yes ]]; then
  printf '%s\n' "tier=$TIER" "torch_variant=$VARIANT" "torch_cuda=$TORCH_CUDA" \
    "torch_index=$INDEX" "driver_cuda=$DRIVER_CUDA" "gpu=$GPU" "nvcc=$NVCC" "flavour=$FLAVOUR" \
    "arch_list=$ARCH" "cuda_headers=$CUDA_HEADERS" "build_minutes=$BUILD_MIN" \
    "cache_dir=$WHEELS" "stamp=$STAMP" "up_to_date=$UP_TO_DATE"
  exit 0
fi
if [[ "$UP_TO_DATE" == yes ]]; then
  echo "[install] $VENV is up to date ($TIER, stamp $STAMP)"
  exit 0
fi

# --- the install ---
start=$(date +%s)
log() { echo "[install +$(($(date +%s) - start))s] $*"; }
if [[ "$TIER" == pretrain ]]; then
  log "plan: what pretraining needs: torch $TORCH_TAG ($VARIANT, CUDA $TORCH_CUDA), mmcv $MMCV" \
    "without compiled ops; about 2 min on $CORES cores (bash tools/install.sh --full adds the ops)"
else
  log "plan: torch $TORCH_TAG ($VARIANT, CUDA $TORCH_CUDA), mmcv $FLAVOUR ops, arch $ARCH," \
    "nvcc $NVCC"
fi

PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
if [[ "$(installed .mls_installed)" == "$BASE_STAMP" ]]; then
  log "torch and the OpenMMLab stack are up to date"
else
  [[ -x "$VENV/bin/python" ]] || { log "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
  rm -f "$VENV/.mls_installed" "$VENV/.mls_ops_installed"
  cuda_of_torch() {
    "$VENV/bin/python" -c 'import torch; print(torch.version.cuda or "none")' 2>/dev/null || echo absent
  }
  # pip keeps an installed torch 2.13.0 of another variant (it satisfies ==2.13.0): remove it first.
  have="$(cuda_of_torch)"
  if [[ "$have" != absent && "$have" != "$TORCH_CUDA" ]]; then
    log "replacing torch (CUDA $have) by the $VARIANT build"
    "${PIP[@]}" uninstall -y -q torch torchvision
  fi
  log "torch + torchvision (about 1 min)"
  if [[ "$VARIANT" == pypi ]]; then
    "${PIP[@]}" install -q -r "$REQ/torch.txt"
  else
    "${PIP[@]}" install -q --index-url "$INDEX" "torch==$TORCH_TAG" "torchvision==$(pin torchvision)"
  fi
  have="$(cuda_of_torch)"
  [[ "$have" == "$TORCH_CUDA" ]] || die "the registry's torch has CUDA $have, not $TORCH_CUDA as" \
    "planned for MLS_TORCH_CUDA=$VARIANT (PYPI_TORCH_CUDA in $0)"
  "${PIP[@]}" install -q -r "$REQ/build.txt"
fi

# mmcv: a wheel per flavour, built once from the sdist and cached. The pretraining tier keeps an
# mmcv with compiled ops that is already there (a full venv whose requirements changed).
[[ "$FLAVOUR" != cuda ]] || probe_cuda_headers   # seconds; stops here, not minutes into the build
KEEP_OPS=no
if [[ "$FLAVOUR" == none ]] && "$VENV/bin/python" -c 'import mmcv._ext' 2>/dev/null; then
  KEEP_OPS=yes
  log "keeping the installed mmcv with compiled ops"
elif ! ls "$WHEELS"/mmcv-$MMCV-*.whl >/dev/null 2>&1; then
  mkdir -p "$WHEELS.tmp"
  if [[ "$FLAVOUR" == none ]]; then
    # mmcv's setup.py names an ops-free build "mmcv-lite", which does not meet mmpretrain's,
    # mmdet's and mmseg's requirement "mmcv": build the same pure-Python package as "mmcv".
    log "building mmcv $MMCV without ops into $WHEELS (pure Python, about 30 s)"
    SRC="$WHEELS.tmp/src"
    mkdir -p "$SRC"
    "${PIP[@]}" download -q --no-deps --no-binary :all: "mmcv==$MMCV" -d "$SRC"
    tar -xzf "$SRC/mmcv-$MMCV.tar.gz" -C "$SRC"
    grep -q "else 'mmcv-lite'" "$SRC/mmcv-$MMCV/setup.py" || die "mmcv $MMCV's setup.py no" \
      "longer names its ops-free build mmcv-lite; tools/install.sh must be updated"
    sed -i "s/else 'mmcv-lite'/else 'mmcv'/" "$SRC/mmcv-$MMCV/setup.py"
    MMCV_WITH_OPS=0 "${PIP[@]}" wheel -q --no-deps --no-build-isolation "$SRC/mmcv-$MMCV" \
      -w "$WHEELS.tmp"
    rm -rf "$SRC"
  else
    log "building mmcv $MMCV with $FLAVOUR ops into $WHEELS: about $BUILD_MIN min on $CORES cores" \
      "($([[ $FLAVOUR == cuda ]] && echo "$N_ARCH GPU targets: $ARCH" || echo "CPU kernels"))"
    if [[ "$FLAVOUR" == cuda ]]; then
      BUILD_ENV=(MMCV_WITH_OPS=1 FORCE_CUDA=1 "TORCH_CUDA_ARCH_LIST=$ARCH")
      if [[ -n "$EXTRA_INCLUDE" ]]; then   # the toolkit lacks the libraries' headers: torch's wheels
        log "using the CUDA headers of torch's NVIDIA wheels: $EXTRA_INCLUDE"
        BUILD_ENV+=("CPATH=$EXTRA_INCLUDE${CPATH:+:$CPATH}"
          "NVCC_APPEND_FLAGS=${NVCC_APPEND_FLAGS:-} -I${EXTRA_INCLUDE//:/ -I}")
      fi
    else   # mmcv's setup.py builds CUDA ops whenever torch sees a GPU: hide it
      BUILD_ENV=(MMCV_WITH_OPS=1 FORCE_CUDA=0 CUDA_VISIBLE_DEVICES=)
    fi
    env "${BUILD_ENV[@]}" MAX_JOBS="${MAX_JOBS:-$CORES}" "${PIP[@]}" wheel -q --no-deps \
      --no-build-isolation --no-binary mmcv mmcv==$MMCV -w "$WHEELS.tmp"
  fi
  rm -rf "$WHEELS" && mv "$WHEELS.tmp" "$WHEELS"   # atomic: a killed build leaves no half cache
else
  log "reusing the cached mmcv wheel from $WHEELS"
fi
# pip keeps an installed mmcv of another flavour or arch: install this plan's wheel over it.
[[ "$KEEP_OPS" == yes ]] || "${PIP[@]}" install -q --no-deps --force-reinstall "$WHEELS"/mmcv-$MMCV-*.whl

if [[ "$(installed .mls_installed)" != "$BASE_STAMP" ]]; then
  log "OpenMMLab stack + test tools (about 1 min)"
  "${PIP[@]}" install -q --find-links "$WHEELS" -r "$REQ/runtime.txt" -r "$REQ/tests.txt"
  log "mls_plugin (editable)"
  "${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"
fi
if [[ "$FLAVOUR" == none && "$KEEP_OPS" == no ]]; then
  "$VENV/bin/python" -c 'import mmcv, mmpretrain, mls_plugin; print("[install] imports ok: mmcv", mmcv.__version__, "(no compiled ops), torch", __import__("torch").__version__)'
else
  "$VENV/bin/python" -c 'import mmcv.ops, mmdet, mmseg, mmpretrain, mls_plugin; print("[install] imports ok: mmcv", mmcv.__version__, "with ops, torch", __import__("torch").__version__)'
fi

# CUDA ops that import can still lack a kernel for this GPU ("no kernel image"): run one.
if [[ "$FLAVOUR" == cuda ]]; then
  if "$VENV/bin/python" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())'; then
    "$VENV/bin/python" -c '
import torch, mmcv.ops
boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 10, 10]], device="cuda")
_, keep = mmcv.ops.nms(boxes, torch.tensor([0.9, 0.8], device="cuda"), 0.5)
assert keep.tolist() == [0], keep' ||
      die "mmcv's CUDA nms fails on this GPU ($GPU): the wheel in $WHEELS was built for arch" \
        "$ARCH; set TORCH_CUDA_ARCH_LIST to include this GPU's and re-run"
    log "mmcv CUDA op check passed (nms on $GPU)"
  else
    log "no GPU visible: skipped the mmcv CUDA op check (ops built for arch $ARCH)"
  fi
fi
echo "$BASE_STAMP" > "$VENV/.mls_installed"
if [[ "$TIER" == full ]]; then echo "$OPS_STAMP" > "$VENV/.mls_ops_installed"
else rm -f "$VENV/.mls_ops_installed"; fi
log "done ($TIER)"
