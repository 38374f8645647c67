"""Unlabelled scene images from a folder, a file list or a COCO json."""

import json
import os
import os.path as osp
from collections import Counter
from typing import List

from mmengine.fileio import get_file_backend
from mmengine.logging import MMLogger
from mmpretrain.datasets import CustomDataset
from mmpretrain.registry import DATASETS


class UnreadableImageError(RuntimeError):
    """An image could not be loaded or transformed; the message names the file."""


@DATASETS.register_module()
class SceneImageDataset(CustomDataset):
    """Images for self-supervised pretraining; any labels are ignored.

    Where the images come from depends on ``ann_file``:

    - empty: every image file under ``data_root/data_prefix``, recursively,
      in sorted order;
    - a ``.json`` file: the ``images[*].file_name`` entries of a COCO
      annotation file, in file order, joined with ``data_prefix``;
    - any other file: one image path per line, joined with ``data_prefix``.

    Args:
        data_root (str): Root that ``ann_file`` and ``data_prefix`` are
            relative to. Defaults to ''.
        data_prefix (str | dict): Image folder, or ``dict(img_path=...)``.
            Defaults to ''.
        ann_file (str): See above. Defaults to ''.
        skip_unreadable (bool): Replace an image that cannot be read or
            transformed by another one instead of stopping. Each skipped file
            and its error travel with the batch (``skipped_images`` in the data
            sample's metainfo) so that ``SkippedImagesHook`` counts and reports
            them at the end of the epoch. A file found broken is never drawn
            again as a replacement. Defaults to False: the error stops the
            run, naming the file.
        **kwargs: Other arguments of mmpretrain's ``CustomDataset``
            (``pipeline``, ``extensions``, ``indices``, ...).

    Examples:
        >>> dataset = dict(type='SceneImageDataset', data_root='data/coco/',
        ...                ann_file='annotations/instances_train2017.json',
        ...                data_prefix='train2017/', pipeline=train_pipeline)
    """

    def __init__(
        self,
        data_root: str = '',
        data_prefix='',
        ann_file: str = '',
        skip_unreadable: bool = False,
        **kwargs,
    ) -> None:
        kwargs.pop('with_label', None)
        self.skip_unreadable = skip_unreadable
        self._broken = set()  # indices found unreadable (per data-loader worker)
        super().__init__(
            data_root=data_root,
            data_prefix=data_prefix,
            ann_file=ann_file,
            with_label=False,
            **kwargs,
        )

    def load_data_list(self) -> List[dict]:
        """Load ``dict(img_path=...)`` for every image."""
        if self.ann_file and not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'SceneImageDataset: `ann_file` not found: {self.ann_file}')
        if self.ann_file.endswith('.json'):
            data_list = self._load_coco_images()
        else:
            if not self.ann_file and not osp.isdir(self.img_prefix):
                raise FileNotFoundError(
                    f'SceneImageDataset: image folder not found: {self.img_prefix} '
                    '(check `data_root` and `data_prefix`)'
                )
            try:
                data_list = super().load_data_list()
            except RuntimeError as err:  # mmpretrain's "Found 0 files", which prints a dict
                msg = f'SceneImageDataset: no images found in {self.img_prefix}'
                raise ValueError(msg) from err
            if not self.ann_file:
                self._report_left_out()
        if not data_list:
            source = self.ann_file or self.img_prefix
            raise ValueError(f'SceneImageDataset: no images found in {source}')
        return data_list

    def _report_left_out(self) -> None:
        """Log once what a folder scan left out and why: files with other extensions and
        symbolic links to nothing (mmengine's listing drops both without a word)."""
        if not osp.isdir(self.img_prefix):
            return  # a remote backend: nothing to compare with
        broken, other = [], Counter()
        for root, _, files in os.walk(self.img_prefix, followlinks=True):
            for name in files:
                path = osp.join(root, name)
                if osp.islink(path) and not osp.exists(path):
                    broken.append(osp.relpath(path, self.img_prefix))
                elif not self.is_valid_file(name):
                    other[osp.splitext(name)[1].lower() or '(none)'] += 1
        parts = []
        if broken:
            shown = ', '.join(sorted(broken)[:3]) + (', ...' if len(broken) > 3 else '')
            parts.append(f'{len(broken)} broken symbolic link(s) ({shown})')
        if other:
            kinds = ', '.join(f'{ext}: {n}' for ext, n in sorted(other.items()))
            parts.append(f'{sum(other.values())} file(s) with other extensions ({kinds})')
        if parts:
            MMLogger.get_current_instance().warning(
                f'SceneImageDataset: {self.img_prefix}: left out {" and ".join(parts)}; '
                f'images are {", ".join(self.extensions)}'
            )

    def _load_coco_images(self) -> List[dict]:
        with open(self.ann_file) as f:
            try:
                coco = json.load(f)
            except json.JSONDecodeError as err:
                msg = f'SceneImageDataset: {self.ann_file} is not valid JSON: {err}'
                raise ValueError(msg) from err
        images = coco.get('images') if isinstance(coco, dict) else None
        if not isinstance(images, list):
            raise ValueError(f'SceneImageDataset: {self.ann_file} has no COCO `images` list')
        backend = get_file_backend(self.img_prefix, enable_singleton=True)
        data_list = []
        for i, image in enumerate(images):
            if 'file_name' not in image:
                msg = f'SceneImageDataset: {self.ann_file}: images[{i}] has no file_name'
                raise ValueError(msg)
            data_list.append(dict(img_path=backend.join_path(self.img_prefix, image['file_name'])))
        return data_list

    def prepare_data(self, idx: int):
        """Run the pipeline; any failure is re-raised naming the image file."""
        info = self.get_data_info(idx)
        try:
            return self.pipeline(info)
        except Exception as err:
            raise UnreadableImageError(
                f'{info["img_path"]}: {type(err).__name__}: {err}'.rstrip(': ')
            ) from err

    def __getitem__(self, idx: int) -> dict:
        if not self.skip_unreadable or self.test_mode:
            return super().__getitem__(idx)
        skipped = []
        for _ in range(self.max_refetch + 1):
            try:
                data = self.prepare_data(idx)
            except UnreadableImageError as err:
                skipped.append(str(err))
                self._broken.add(idx)
                data = None
            if data is not None:
                if skipped:
                    data['data_samples'].set_metainfo(dict(skipped_images=skipped))
                return data
            idx = self._another_unbroken()
        raise UnreadableImageError(
            f'{len(skipped)} images in a row could not be read; the last: {skipped[-1]}'
        )

    def _another_unbroken(self) -> int:
        """A random index not yet found broken."""
        if len(self._broken) >= len(self):
            raise UnreadableImageError(f'SceneImageDataset: all {len(self)} images are unreadable')
        while True:
            idx = self._rand_another()
            if idx not in self._broken:
                return idx
