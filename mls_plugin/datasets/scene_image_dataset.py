"""Unlabelled scene images from a folder, a file list or a COCO json."""

import json
import os.path as osp
from typing import List

from mmengine.fileio import get_file_backend
from mmpretrain.datasets import CustomDataset
from mmpretrain.registry import DATASETS


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
        **kwargs: Other arguments of mmpretrain's ``CustomDataset``
            (``pipeline``, ``extensions``, ``indices``, ...).

    Examples:
        >>> dataset = dict(type='SceneImageDataset', data_root='data/coco/',
        ...                ann_file='annotations/instances_train2017.json',
        ...                data_prefix='train2017/', pipeline=train_pipeline)
    """

    def __init__(self, data_root: str = '', data_prefix='', ann_file: str = '', **kwargs) -> None:
        kwargs.pop('with_label', None)
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
        if not data_list:
            source = self.ann_file or self.img_prefix
            raise ValueError(f'SceneImageDataset: no images found in {source}')
        return data_list

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
