"""COCO instances as a multi-label image classification dataset."""

import json
import os.path as osp
from typing import Dict, List, Optional

from mmengine.fileio import get_file_backend
from mmpretrain.datasets import MultiLabelDataset
from mmpretrain.registry import DATASETS


@DATASETS.register_module()
class CocoMultiLabelDataset(MultiLabelDataset):
    """Images of a COCO instances json, each labelled by the categories it contains.

    Every entry of ``images`` becomes one sample: ``img_path`` is its
    ``file_name`` joined with ``data_root/data_prefix``, ``gt_label`` the sorted
    list of the distinct class indices of its non-crowd annotations. Class
    indices are 0-based positions in the category list sorted by COCO id (the
    ids are sparse, 1..90 for the 80 COCO classes), and
    ``metainfo['classes']`` holds the category names in that order. Images are
    kept in file order.

    Args:
        ann_file (str): COCO instances json, relative to ``data_root`` unless
            absolute, e.g. ``'annotations/instances_val2017.json'``.
        data_root (str): Root that ``ann_file`` and ``data_prefix`` are
            relative to. Defaults to ''.
        data_prefix (str | dict): Image folder, or ``dict(img_path=...)``.
            Defaults to ''.
        metainfo (dict, optional): ``dict(classes=[...])`` restricts the
            labels to these category names, in this order (annotations of
            other categories are ignored). Defaults to None: all categories
            of the json.
        filter_cfg (dict, optional): ``dict(filter_empty_gt=True)`` drops the
            images that end up with no label (no annotation, only crowd
            annotations, or only categories outside ``classes``). Defaults to
            None: such images are kept with an empty label list, as negatives
            for every class.
        **kwargs: Other arguments of mmpretrain's ``BaseDataset``
            (``pipeline``, ``test_mode``, ``indices``, ``lazy_init``, ...).

    Examples:
        >>> dataset = dict(type='CocoMultiLabelDataset', data_root='data/coco/',
        ...                ann_file='annotations/instances_val2017.json',
        ...                data_prefix='val2017/', pipeline=test_pipeline)
    """

    def __init__(
        self,
        ann_file: str,
        data_root: str = '',
        data_prefix='',
        metainfo: Optional[dict] = None,
        filter_cfg: Optional[dict] = None,
        **kwargs,
    ) -> None:
        if not ann_file:
            raise ValueError(
                'CocoMultiLabelDataset: `ann_file` (a COCO instances json) is required'
            )
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            metainfo=metainfo,
            filter_cfg=filter_cfg,
            **kwargs,
        )

    def load_data_list(self) -> List[dict]:
        """Load ``dict(img_path, gt_label, img_id)`` for every image of the json."""
        coco = self._load_json()
        categories = sorted(coco['categories'], key=lambda c: c['id'])
        names = [c['name'] for c in categories]
        wanted = self._metainfo.get('classes')
        if wanted is None:
            wanted = names
        else:
            unknown = [n for n in wanted if n not in names]
            if unknown:
                raise ValueError(
                    f'CocoMultiLabelDataset: classes {unknown} are not categories of '
                    f'{self.ann_file}'
                )
        self._metainfo['classes'] = tuple(wanted)
        name_to_index = {name: i for i, name in enumerate(wanted)}
        cat_to_index: Dict[int, int] = {
            c['id']: name_to_index[c['name']] for c in categories if c['name'] in name_to_index
        }
        known_cats = {c['id'] for c in categories}

        image_ids = [image['id'] for image in coco['images']]
        labels: Dict[int, set] = {image_id: set() for image_id in image_ids}
        for i, ann in enumerate(coco['annotations']):
            image_id, cat_id = ann.get('image_id'), ann.get('category_id')
            if image_id not in labels or cat_id not in known_cats:
                raise ValueError(
                    f'CocoMultiLabelDataset: {self.ann_file}: annotations[{i}] refers to '
                    f'image_id {image_id!r} / category_id {cat_id!r}, which the json does not '
                    'define'
                )
            if not ann.get('iscrowd', 0) and cat_id in cat_to_index:
                labels[image_id].add(cat_to_index[cat_id])

        backend = get_file_backend(self.img_prefix, enable_singleton=True)
        return [
            dict(
                img_path=backend.join_path(self.img_prefix, image['file_name']),
                gt_label=sorted(labels[image['id']]),
                img_id=image['id'],
            )
            for image in coco['images']
        ]

    def filter_data(self) -> List[dict]:
        """Drop the images without labels if ``filter_cfg.filter_empty_gt``."""
        if not (self.filter_cfg or {}).get('filter_empty_gt', False):
            return self.data_list
        return [info for info in self.data_list if info['gt_label']]

    def _load_json(self) -> dict:
        """Read and sanity-check the COCO json, naming the file in every error."""
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'CocoMultiLabelDataset: `ann_file` not found: {self.ann_file}')
        with open(self.ann_file) as f:
            try:
                coco = json.load(f)
            except json.JSONDecodeError as err:
                msg = f'CocoMultiLabelDataset: {self.ann_file} is not valid JSON: {err}'
                raise ValueError(msg) from err
        missing = [
            key
            for key in ('images', 'annotations', 'categories')
            if not isinstance(coco, dict) or not isinstance(coco.get(key), list)
        ]
        if missing:
            raise ValueError(
                f'CocoMultiLabelDataset: {self.ann_file} is not a COCO instances json: no '
                f'{missing} list'
            )
        for field, required in (('images', ('id', 'file_name')), ('categories', ('id', 'name'))):
            for i, entry in enumerate(coco[field]):
                if not isinstance(entry, dict) or any(k not in entry for k in required):
                    raise ValueError(
                        f'CocoMultiLabelDataset: {self.ann_file}: {field}[{i}] lacks one of '
                        f'{list(required)}'
                    )
        return coco
