"""What mmengine's deterministic mode needs from the environment on CUDA."""

import os

from mmengine.config import Config

# cuBLAS's documented workspace setting for reproducible results (also ':16:8').
CUBLAS_WORKSPACE = ':4096:8'


def prepare_determinism(cfg: Config) -> None:
    """Set ``CUBLAS_WORKSPACE_CONFIG`` when ``randomness.deterministic`` is on.

    mmengine then calls ``torch.use_deterministic_algorithms(True)``, under
    which the first cuBLAS matmul raises unless this variable is set before
    CUDA starts. A value the user set is kept. Call it before the Runner is
    built.
    """
    if cfg.get('randomness', {}).get('deterministic', False):
        os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', CUBLAS_WORKSPACE)
