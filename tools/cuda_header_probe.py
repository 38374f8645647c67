"""Can nvcc compile mmcv's CUDA ops here? A few seconds' answer before a long build.

mmcv's CUDA sources include torch's ``ATen/cuda/CUDAContext.h``, which includes the headers of
the CUDA libraries (``cusparse.h``, ``cublas_v2.h``, ``cusolverDn.h``, ...). A toolkit that has
nvcc but not those headers fails minutes into the build. This probe preprocesses one source
that includes what mmcv's ``pytorch_cuda_helper.hpp`` includes (``nvcc -E``: resolves every
include, compiles nothing), first with the toolkit alone, then adding the ``include`` folders
of torch's own pip-installed NVIDIA packages (``site-packages/nvidia/*/include``), which carry
the libraries' headers.

Prints one line and exits 0:
    ok                         the toolkit has every header
    extra_include=DIR[:DIR]    the build needs torch's wheels' headers (add them to CPATH)
Exits 1 with one sentence on stderr naming the missing header when neither works.

    python tools/cuda_header_probe.py [--nvcc PATH]
"""

import argparse
import glob
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from typing import List, Optional, Tuple

SOURCE = """\
#include <cuda_runtime.h>
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/types.h>
"""


def torch_wheel_includes() -> List[str]:
    """``include`` folders of the NVIDIA packages pip installed with torch."""
    import torch

    site = osp.dirname(osp.dirname(torch.__file__))
    found = glob.glob(osp.join(site, 'nvidia', '*', 'include'))
    return sorted(d for d in found if osp.isdir(d))


def preprocess(nvcc: str, extra: List[str]) -> Tuple[bool, str]:
    """``nvcc -E`` of SOURCE with torch's include paths (and ``extra``); (ok, stderr)."""
    from torch.utils.cpp_extension import include_paths

    with tempfile.TemporaryDirectory() as tmp:
        src = osp.join(tmp, 'probe.cu')
        with open(src, 'w') as f:
            f.write(SOURCE)
        flags = [f'-I{d}' for d in include_paths() + [sysconfig.get_paths()['include']] + extra]
        cmd = [nvcc, '-E', '-std=c++17', *flags, src, '-o', os.devnull]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return done.returncode == 0, done.stderr


def missing_header(stderr: str) -> Optional[str]:
    match = re.search(r'fatal error: ([^\s:]+): No such file', stderr)
    return match.group(1) if match else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--nvcc', default=shutil.which('nvcc') or 'nvcc')
    args = parser.parse_args()
    ok, err = preprocess(args.nvcc, [])
    if ok:
        print('ok')
        return 0
    first = missing_header(err)
    extra = torch_wheel_includes()
    if extra:
        ok, err_extra = preprocess(args.nvcc, extra)
        if ok:
            print('extra_include=' + ':'.join(extra))
            return 0
        err = err_extra
    missing = missing_header(err) or first
    what = f'header {missing}' if missing else 'a working preprocessor run'
    tail = ' '.join(err.strip().splitlines()[-2:])[:300] if not missing else ''
    print(
        f"{args.nvcc} lacks {what} that mmcv's CUDA ops need (checked the toolkit and "
        f"torch's NVIDIA wheels{', ' + str(len(extra)) + ' include folders' if extra else ''})"
        f'{": " + tail if tail else ""}',
        file=sys.stderr,
    )
    return 1


if __name__ == '__main__':
    sys.exit(main())
