"""CamVid in the SegNet layout (11 classes) for mmseg."""

from typing import Optional, Sequence

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

VOID = 11


@DATASETS.register_module()
class CamVidDataset(BaseSegDataset):
    """CamVid street scenes, 11 classes, as in the SegNet tutorial release.

    Layout under ``data_root``: ``train/``, ``trainannot/``, ``val/``,
    ``valannot/`` (``.png`` frames and 8-bit label maps) and ``train.txt`` /
    ``val.txt`` listing file stems. Label value 11 is *void*; it is mapped to
    mmseg's ignore index 255 when the annotation is loaded.
    """

    METAINFO = dict(
        classes=(
            'sky',
            'building',
            'pole',
            'road',
            'pavement',
            'tree',
            'signsymbol',
            'fence',
            'car',
            'pedestrian',
            'bicyclist',
        ),  # fmt: skip
        palette=[
            [128, 128, 128],
            [128, 0, 0],
            [192, 192, 128],
            [128, 64, 128],
            [60, 40, 222],
            [128, 128, 0],
            [192, 128, 128],
            [64, 64, 128],
            [64, 0, 128],
            [64, 64, 0],
            [0, 128, 192],
        ],  # fmt: skip
    )

    def __init__(self, img_suffix: str = '.png', seg_map_suffix: str = '.png', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)

    @classmethod
    def get_label_map(cls, new_classes: Optional[Sequence] = None) -> Optional[dict]:
        """mmseg's class-subset map, plus void -> 255 for the full class list."""
        label_map = super().get_label_map(new_classes)
        if label_map is None:
            return {VOID: 255}
        label_map.setdefault(VOID, 255)
        return label_map
