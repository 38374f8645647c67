"""Count and report the images that ``skip_unreadable`` replaced."""

import os.path as osp
from typing import List, Optional

from mmengine.dist import all_gather_object, is_main_process
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class SkippedImagesHook(Hook):
    """Report, once an epoch, every image the dataset could not read.

    With ``SceneImageDataset(skip_unreadable=True)`` a broken image is
    replaced by another one and its path and error travel in the batch. This
    hook gathers them from all ranks and, at the end of each epoch, logs the
    count (``train/skipped_images``), warns with the first files and writes the
    full list to ``<work_dir>/skipped_images_epoch_<N>.txt``: nothing is
    dropped without a trace.
    """

    def __init__(self) -> None:
        self._skipped: List[str] = []

    def before_train_epoch(self, runner) -> None:
        self._skipped = []

    def after_train_iter(
        self, runner, batch_idx: int, data_batch: Optional[dict] = None, outputs=None
    ) -> None:
        for sample in (data_batch or {}).get('data_samples', []):
            self._skipped += sample.metainfo.get('skipped_images', [])

    def after_train_epoch(self, runner) -> None:
        skipped = [s for part in all_gather_object(self._skipped) for s in part]
        runner.message_hub.update_scalar('train/skipped_images', len(skipped))
        if not skipped or not is_main_process():
            return
        epoch = runner.epoch + 1  # the loop counts the epoch only after these hooks
        path = osp.join(runner.work_dir, f'skipped_images_epoch_{epoch}.txt')
        with open(path, 'w') as f:
            f.write('\n'.join(skipped) + '\n')
        shown = '\n  '.join(skipped[:10])
        runner.logger.warning(
            f'{len(skipped)} unreadable images were skipped in epoch {epoch} '
            f'(all listed in {path}):\n  {shown}'
        )
