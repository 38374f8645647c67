"""A local file backend whose writes are atomic, for checkpoints."""

import glob
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend


class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` writing through a temporary file and a rename.

    mmengine writes a checkpoint straight into its final path: a job killed
    during the write (preemption, out of time) leaves a truncated file under
    a name that ``--resume`` may pick, and a fixed name such as
    ``latest.pth`` loses the last good copy. Here the bytes go to a temporary
    file in the same folder, are flushed to disk, and replace the target with
    ``os.replace``, which is atomic on POSIX: the path holds either the old
    complete file or the new complete one. Select it with
    ``default_hooks.checkpoint.backend_args=dict(backend='atomic_local')``
    (the MLS configs do).
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        filepath = str(filepath)
        folder = osp.dirname(osp.abspath(filepath))
        os.makedirs(folder, exist_ok=True)
        prefix = f'.{osp.basename(filepath)}.'
        for stale in glob.glob(osp.join(glob.escape(folder), prefix + '*.tmp')):
            os.remove(stale)  # left by a writer that was killed; one writer per file
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix='.tmp')
        try:
            with os.fdopen(fd, 'wb') as f:
                f.write(obj)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, filepath)
        except BaseException:
            if osp.exists(tmp):
                os.remove(tmp)
            raise

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)


register_backend('atomic_local', AtomicLocalBackend)
