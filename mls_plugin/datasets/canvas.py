"""The data loader's side of the GPU views: decode, fit into a fixed square canvas, ship uint8.

:class:`ResizeToCanvas` is the only transform after ``LoadImageFromFile`` in the pipeline of
the ``*-gpu-views`` configs; ``MoCoV2TwoViewPreprocessor`` makes the views on the device.
:class:`ResidentCanvasDataset` decodes a dataset once and keeps the canvases in memory, on
the GPU where one is used, for small datasets that fit (the GPU study of coco_scenes).
"""

from typing import Optional, Tuple

import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.dataset import BaseDataset, Compose
from mmpretrain.registry import DATASETS, TRANSFORMS


@TRANSFORMS.register_module()
class ResizeToCanvas(BaseTransform):
    """Fit the whole image into a ``size x size`` canvas, aspect kept, padded at bottom/right.

    An image larger than the canvas is shrunk so that its long side is ``size`` (Pillow's
    bilinear, antialiased, as the CPU views' ``backend='pillow'``), a smaller one is kept at
    its own resolution (no resampling: the views are cut from its own pixels, as on the CPU)
    unless ``upscale``; it is placed in the top-left corner of a zero canvas. Nothing is cut
    off, so the device's RandomResizedCrop can draw its box from the whole image, in the
    original image's pixels, exactly as the CPU path does; a fixed square resize would distort
    the aspect ratios it draws, a centre crop would never show the image's sides.

    Required keys: ``img``, ``ori_shape``. Modified: ``img`` (the ``(size, size, 3)``
    canvas). Added: ``canvas_valid`` (the resized image's height and width on it).
    ``img_shape`` is left as ``LoadImageFromFile`` set it (the original shape), as
    ``MultiView`` leaves it in the CPU path.

    Args:
        size (int): The canvas side, pixels. Make it about twice the views' size or the
            photos' long side: the CPU path crops the full-resolution image, so a smaller
            canvas enlarges small crops.
        upscale (bool): Enlarge images smaller than the canvas to fill it. Defaults to False.
        interpolation (str): mmcv interpolation. Defaults to 'bilinear'.
        backend (str): mmcv resize backend. Defaults to 'pillow'.
    """

    def __init__(
        self,
        size: int,
        upscale: bool = False,
        interpolation: str = 'bilinear',
        backend: str = 'pillow',
    ) -> None:
        if not isinstance(size, int) or size < 1:
            raise ValueError(f'ResizeToCanvas: `size` must be an int >= 1, got {size!r}')
        self.size = size
        self.upscale = upscale
        self.interpolation = interpolation
        self.backend = backend

    def fitted_shape(self, h: int, w: int) -> Tuple[int, int]:
        """The image's ``(height, width)`` on the canvas: long side ``size``, aspect kept
        (an image that fits already is left as it is unless ``upscale``)."""
        scale = self.size / max(h, w)
        if scale >= 1 and not self.upscale:
            return (h, w)
        return (min(self.size, max(1, round(h * scale))), min(self.size, max(1, round(w * scale))))

    def transform(self, results: dict) -> dict:
        """Resize ``results['img']`` into the canvas and record ``canvas_valid``."""
        img = results['img']
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        h, w = self.fitted_shape(*img.shape[:2])
        if (h, w) != img.shape[:2]:
            img = mmcv.imresize(img, (w, h), interpolation=self.interpolation, backend=self.backend)
        canvas = np.zeros((self.size, self.size, img.shape[2]), dtype=np.uint8)
        canvas[:h, :w] = img
        results['img'] = canvas
        results['canvas_valid'] = (h, w)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(size={self.size}, backend={self.backend})'


@DATASETS.register_module()
class ResidentCanvasDataset(torch.utils.data.Dataset):
    """A dataset decoded once, its packed uint8 canvases kept in memory (on ``device``).

    Every item of ``dataset`` (whose pipeline must end in ``ResizeToCanvas`` and
    ``PackInputs``) is loaded at construction; the canvases are stacked into one
    ``(N, 3, S, S)`` uint8 tensor on ``device``, so an epoch costs no decoding and, on a GPU,
    no host-to-device copy. Use it with ``num_workers=0`` (the tensors may live on a GPU,
    which workers cannot share) and ``persistent_workers=False``. Memory: ``N x 3 x S^2``
    bytes (coco_scenes at S = 128: 79 MB).

    Args:
        dataset (dict | Dataset): The dataset to hold, e.g. a ``SceneImageDataset`` config.
        device (str): Where the canvases live: 'cuda', 'cpu' or 'auto' (CUDA when available).
            Defaults to 'auto'.
        data_root (str, optional): Replaces the wrapped dataset config's ``data_root``, so
            that tools which set ``train_dataloader.dataset.data_root`` (e.g.
            ``compare_pretraining.py``) reach it. Defaults to None.
    """

    def __init__(self, dataset, device: str = 'auto', data_root: Optional[str] = None) -> None:
        if isinstance(dataset, dict):
            if data_root is not None:
                dataset = dict(dataset, data_root=data_root)
            dataset = DATASETS.build(dataset)
        elif data_root is not None:
            raise ValueError(
                'ResidentCanvasDataset: `data_root` applies to a dataset config (dict), not to '
                f'a built {type(dataset).__name__}'
            )
        if device == 'auto':
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        self.dataset: BaseDataset = dataset
        self.metainfo = getattr(dataset, 'metainfo', {})
        items = [dataset[i] for i in range(len(dataset))]
        first = items[0]['inputs'] if items else None
        if not isinstance(first, torch.Tensor) or first.dtype != torch.uint8 or first.dim() != 3:
            raise ValueError(
                'ResidentCanvasDataset: the dataset must yield one uint8 (3, S, S) canvas per '
                'image (pipeline LoadImageFromFile, ResizeToCanvas, PackInputs; '
                f'train_dataloader.dataset.dataset.pipeline), got {type(first).__name__}'
            )
        self.canvases = torch.stack([item['inputs'] for item in items]).to(device)
        self.data_samples = [item['data_samples'] for item in items]

    def __len__(self) -> int:
        return len(self.data_samples)

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=self.canvases[index], data_samples=self.data_samples[index])

    @property
    def pipeline(self) -> Optional[Compose]:
        """The wrapped dataset's pipeline (run once, at construction)."""
        return getattr(self.dataset, 'pipeline', None)
