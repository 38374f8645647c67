"""MoCo-v2's two augmented views made on the model's device from fixed-size uint8 canvases.

The CPU pipeline of the MLS configs (``RandomResizedCrop`` -> ``RandomApply(ColorJitter)`` ->
``RandomGrayscale`` -> ``GaussianBlur`` -> ``RandomFlip``, per view, per image, in a data-loader
worker) costs a worker 62-102 images/s at 224 px (docs/performance.md). Here the data loader only
decodes and fits each image into a fixed square canvas (:class:`ResizeToCanvas`), and
:class:`MoCoV2TwoViewPreprocessor` makes both views of the whole batch with batched torch ops,
every image with its own random parameters drawn from a generator on the device.

The functions below follow the CPU transforms' semantics (mmpretrain 1.2 / mmcv 2.1, which follow
torchvision's): the crop is drawn in the *original* image's pixels with the 10 tries and the
central-crop fallback, so its area fraction and aspect ratio have the CPU path's distribution
whatever the canvas size.
"""

import math
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.dist import get_rank
from mmpretrain.models.utils.data_preprocessor import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS

# Luma weights in RGB order: the configs' RandomGrayscale channel_weights (0.114, 0.587, 0.2989)
# are in BGR order; ImageEnhance (contrast, saturation) converts with PIL's 299/587/114.
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)
PIL_LUMA = (0.299, 0.587, 0.114)


def _uniform(n: int, low: float, high: float, gen: torch.Generator, device) -> torch.Tensor:
    """``n`` draws of U(low, high) in float64 (NumPy's precision, as the CPU path draws)."""
    return torch.rand(n, generator=gen, device=device, dtype=torch.float64) * (high - low) + low


def sample_crops(
    ori_hw: torch.Tensor,
    scale: Tuple[float, float],
    ratio: Tuple[float, float],
    gen: torch.Generator,
    max_attempts: int = 10,
) -> torch.Tensor:
    """RandomResizedCrop boxes ``(top, left, height, width)`` in the original images' pixels.

    torchvision's (and mmpretrain's) rule, per image: up to ``max_attempts`` tries of an area
    fraction ``U(scale)`` and an aspect ratio (width / height) ``exp(U(log ratio))``, sizes
    rounded to integers; the first that fits is placed at a uniform integer offset. When none
    fits, a central crop of the whole image clipped to the ratio range. All tries are drawn at
    once (no device synchronisation); the first fitting one is kept.

    Args:
        ori_hw (Tensor): ``(B, 2)`` original heights and widths.
        scale (tuple[float, float]): Range of the crop's area fraction.
        ratio (tuple[float, float]): Range of the crop's aspect ratio (width / height).
        gen (Generator): Generator on ``ori_hw``'s device.
        max_attempts (int): Tries before the fallback. Defaults to 10.

    Returns:
        Tensor: ``(B, 4)`` float64 ``(top, left, height, width)``, integers.
    """
    device = ori_hw.device
    b = ori_hw.shape[0]
    h, w = ori_hw[:, 0:1].double(), ori_hw[:, 1:2].double()
    area = h * w * _uniform(b * max_attempts, *scale, gen, device).view(b, max_attempts)
    log_r = _uniform(b * max_attempts, math.log(ratio[0]), math.log(ratio[1]), gen, device)
    aspect = torch.exp(log_r.view(b, max_attempts))
    tw = torch.round(torch.sqrt(area * aspect))
    th = torch.round(torch.sqrt(area / aspect))
    fits = (tw > 0) & (tw <= w) & (th > 0) & (th <= h)
    # The first fitting try: argmax over a strictly decreasing score of the fitting ones.
    rank = torch.arange(max_attempts, 0, -1, device=device, dtype=torch.float64)
    first = torch.argmax(fits.double() * rank, dim=1, keepdim=True)
    found = fits.any(dim=1, keepdim=True)
    th, tw = th.gather(1, first), tw.gather(1, first)
    u = torch.rand(b, 2, generator=gen, device=device, dtype=torch.float64)
    top = torch.floor(u[:, 0:1] * (h - th + 1)).clamp(max=h - th)
    left = torch.floor(u[:, 1:2] * (w - tw + 1)).clamp(max=w - tw)
    # Fallback: the whole image, its aspect clipped into the ratio range, centred.
    in_ratio = w / h
    fb_w = torch.where(in_ratio > ratio[1], torch.round(h * ratio[1]), w)
    fb_h = torch.where(in_ratio < ratio[0], torch.round(w / ratio[0]), h)
    fb_top, fb_left = torch.floor((h - fb_h) / 2), torch.floor((w - fb_w) / 2)
    box = torch.cat([top, left, th, tw], dim=1)
    fallback = torch.cat([fb_top, fb_left, fb_h, fb_w], dim=1)
    return torch.where(found, box, fallback)


def resized_crop(
    canvas: torch.Tensor,
    boxes: torch.Tensor,
    flip: torch.Tensor,
    size: Tuple[int, int],
    max_supersample: int = 4,
) -> torch.Tensor:
    """Crop boxes out of float canvases and resize them to ``size``, mirrored where ``flip``.

    Bilinear sampling at the output pixels' centres, each output pixel the mean of ``n x n``
    bilinear samples spread over its footprint (``n``: the largest shrink factor, rounded up,
    at most ``max_supersample``; on CUDA that of a box as large as the canvas, so that no
    value is read back from the device): the area-weighted anti-aliasing that Pillow's
    bilinear resize does when it shrinks. Samples are clamped into the box, so pixels outside
    it (the canvas padding) never enter a view.

    Args:
        canvas (Tensor): ``(B, C, S_h, S_w)`` float images.
        boxes (Tensor): ``(B, 4)`` ``(top, left, height, width)`` in canvas pixels (floats).
        flip (Tensor): ``(B,)`` bool, mirror the view horizontally.
        size (tuple[int, int]): Output ``(height, width)``.
        max_supersample (int): Cap on ``n``. Defaults to 4.

    Returns:
        Tensor: ``(B, C, size[0], size[1])``.
    """
    b, _, sh, sw = canvas.shape
    oh, ow = size
    boxes = boxes.to(canvas.dtype)
    if canvas.is_cuda:  # n from the shapes alone (no synchronisation): a box fits the canvas
        factor = max(sh / oh, sw / ow)
    else:  # the batch's largest shrink factor
        factor = float(torch.maximum(boxes[:, 2] / oh, boxes[:, 3] / ow).max())
    n = int(min(max(math.ceil(factor - 1e-6), 1), max_supersample))
    dev, dt = canvas.device, canvas.dtype
    ys = (torch.arange(oh * n, device=dev, dtype=dt) + 0.5) / (oh * n)  # fractions of the box
    xs = (torch.arange(ow * n, device=dev, dtype=dt) + 0.5) / (ow * n)
    top, left, bh, bw = boxes.unbind(1)
    xs = torch.where(flip[:, None], 1 - xs[None], xs[None])  # (B, W)
    y = top[:, None] + ys[None] * bh[:, None]
    x = left[:, None] + xs * bw[:, None]
    # Clamp to the box's outermost pixel centres: the box's edge pixels are repeated.
    y = torch.minimum(torch.maximum(y, top[:, None] + 0.5), (top + bh)[:, None] - 0.5)
    x = torch.minimum(torch.maximum(x, left[:, None] + 0.5), (left + bw)[:, None] - 0.5)
    gy = (y * (2 / sh) - 1)[:, :, None].expand(b, oh * n, ow * n)
    gx = (x * (2 / sw) - 1)[:, None, :].expand(b, oh * n, ow * n)
    grid = torch.stack([gx, gy], dim=-1)
    out = F.grid_sample(canvas, grid, mode='bilinear', padding_mode='border', align_corners=False)
    return F.avg_pool2d(out, n) if n > 1 else out


def _gray(img: torch.Tensor, weights: Sequence[float]) -> torch.Tensor:
    """``(B, 1, H, W)`` weighted sum of the RGB channels."""
    r, g, b = img.unbind(1)
    return (weights[0] * r + weights[1] * g + weights[2] * b).unsqueeze(1)


def rgb_to_hsv(img: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] to HSV, hue in [0, 1) (the hexcone model)."""
    r, g, b = img.unbind(1)
    maxc, _ = img.max(dim=1)
    minc, _ = img.min(dim=1)
    delta = maxc - minc
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    hue = torch.where(
        maxc == r,
        torch.remainder((g - b) / safe, 6),
        torch.where(maxc == g, (b - r) / safe + 2, (r - g) / safe + 4),
    )
    hue = torch.where(delta > 0, hue / 6, torch.zeros_like(hue))
    sat = torch.where(
        maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)), 0 * maxc
    )
    return torch.stack([hue, sat, maxc], dim=1)


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """HSV (hue in [0, 1)) to RGB in [0, 1]: channel ``c = v - v s clamp(min(k, 4 - k), 0, 1)``
    with ``k = (n + 6 h) mod 6`` and ``n`` = 5, 3, 1 for R, G, B."""
    h, s, v = hsv.unbind(1)
    n = torch.tensor([5.0, 3.0, 1.0], device=hsv.device, dtype=hsv.dtype).view(1, 3, 1, 1)
    k = torch.remainder(n + 6 * h.unsqueeze(1), 6)
    ramp = torch.clamp(torch.minimum(k, 4 - k), 0, 1)
    return v.unsqueeze(1) - (v * s).unsqueeze(1) * ramp


def shift_hue(img: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the hue of each image by ``shift`` turns (torchvision's ``adjust_hue``)."""
    hsv = rgb_to_hsv(img)
    hue = torch.remainder(hsv[:, 0:1] + shift.to(img.dtype).view(-1, 1, 1, 1), 1.0)
    return hsv_to_rgb(torch.cat([hue, hsv[:, 1:]], dim=1)).clamp(0, 1)


def color_jitter(
    img: torch.Tensor, factors: torch.Tensor, order: torch.Tensor, sync_free: bool
) -> torch.Tensor:
    """ColorJitter with per-image factors and a per-image order, torchvision's float semantics.

    The four adjustments, in each image's ``order``: 0 brightness (blend with black),
    1 contrast (blend with the mean of the image's luma), 2 saturation (blend with the
    per-pixel luma), 3 hue (a shift, in turns); the image is clipped to [0, 1] after each.
    At each of the four steps the three blends are one batched blend (each image with its own
    target and factor; factor 1 where the step is not a blend), and the hue shift runs on the
    images whose step it is.

    Args:
        img (Tensor): ``(N, 3, H, W)`` RGB in [0, 1].
        factors (Tensor): ``(N, 4)`` brightness, contrast, saturation factors and hue shift.
        order (Tensor): ``(N, 4)`` each image's permutation of 0..3.
        sync_free (bool): Shift the hue of every image at every step (by 0 where it is not
            that image's step), so that no step waits for the device (CUDA); else only of the
            images selected (CPU: a quarter of the work).

    Returns:
        Tensor: The jittered images.
    """
    factors = factors.to(img.dtype)
    for step in range(4):
        op = order[:, step]
        f = torch.where(op < 3, factors.gather(1, op[:, None]).squeeze(1), 1.0).view(-1, 1, 1, 1)
        # The blend's target: 0 (brightness), the luma's mean (contrast), the luma (saturation).
        luma = _gray(img, PIL_LUMA)
        is_contrast = (op == 1).to(img.dtype).view(-1, 1, 1, 1)
        is_saturation = (op == 2).to(img.dtype).view(-1, 1, 1, 1)
        target = is_contrast * luma.mean(dim=(2, 3), keepdim=True) + is_saturation * luma
        img = torch.addcmul((1 - f) * target, f, img).clamp_(0, 1)
        hue = op == 3
        if sync_free:
            img = shift_hue(img, torch.where(hue, factors[:, 3], 0.0))
        else:
            idx = hue.nonzero().squeeze(1)
            if idx.numel():
                img = img.index_copy(0, idx, shift_hue(img[idx], factors[idx, 3]))
    return img


def gaussian_blur(img: torch.Tensor, sigma: torch.Tensor, max_sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with a per-image ``sigma`` (pixels), edges replicated.

    The kernel spans ``+-ceil(3 max_sigma)`` pixels for every image (Pillow's GaussianBlur,
    which the CPU path uses, has no kernel size: its box-filter approximation reaches about
    3 sigma).
    """
    b, c, h, w = img.shape
    radius = max(1, math.ceil(3 * max_sigma))
    x = torch.arange(-radius, radius + 1, device=img.device, dtype=img.dtype)
    kernel = torch.exp(-0.5 * (x[None] / sigma.to(img.dtype)[:, None]) ** 2)
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)
    flat = img.reshape(1, b * c, h, w)
    flat = F.pad(flat, (radius, radius, 0, 0), mode='replicate')
    flat = F.conv2d(flat, kernel.view(b * c, 1, 1, -1), groups=b * c)
    flat = F.pad(flat, (0, 0, radius, radius), mode='replicate')
    flat = F.conv2d(flat, kernel.view(b * c, 1, -1, 1), groups=b * c)
    return flat.view(b, c, h, w)


class MoCoV2ViewParams(dict):
    """The random parameters of a batch of views (a dict of ``(N, ...)`` tensors), for tests.

    Keys: ``box`` (top, left, height, width in the original image's pixels), ``jitter`` (bool,
    ColorJitter applied), ``factors`` (``(N, 4)``: brightness, contrast, saturation, hue),
    ``order`` (``(N, 4)`` permutation of 0..3), ``gray``, ``blur`` (bool), ``sigma``, ``flip``.
    """


def mocov2_views(
    canvas: torch.Tensor,
    valid_hw: torch.Tensor,
    ori_hw: torch.Tensor,
    gen: torch.Generator,
    size: Tuple[int, int],
    recipe: 'MoCoV2Recipe',
) -> Tuple[torch.Tensor, MoCoV2ViewParams]:
    """Augmented views in [0, 1] RGB, one per canvas, each with its own random parameters.

    Args:
        canvas (Tensor): ``(N, 3, S, S)`` RGB float images in [0, 1], each image in its
            top-left ``valid_hw`` corner.
        valid_hw (Tensor): ``(N, 2)`` the images' heights and widths on the canvas.
        ori_hw (Tensor): ``(N, 2)`` their original heights and widths, in which the crop is drawn.
        gen (Generator): Generator on the canvas's device.
        size (tuple[int, int]): The views' ``(height, width)``.
        recipe (MoCoV2Recipe): Ranges and probabilities.

    Returns:
        tuple[Tensor, MoCoV2ViewParams]: ``(N, 3, size[0], size[1])`` views and their parameters.
    """
    n, dev = canvas.shape[0], canvas.device
    boxes = sample_crops(ori_hw, recipe.scale, recipe.ratio, gen)
    per_px = (valid_hw.double() / ori_hw.double()).repeat(1, 2)  # (sy, sx, sy, sx)
    flip = torch.rand(n, generator=gen, device=dev) < recipe.flip_prob
    img = resized_crop(canvas, boxes * per_px, flip, size, 4 if recipe.antialias else 1)

    jitter = torch.rand(n, generator=gen, device=dev) < recipe.jitter_prob
    factors = torch.stack(
        [_uniform(n, lo, hi, gen, dev) for lo, hi in recipe.jitter_ranges], dim=1
    ).to(img.dtype)
    # One permutation of the four adjustments per image (torchvision draws one per call).
    order = torch.argsort(torch.rand(n, 4, generator=gen, device=dev), dim=1)
    # On CUDA every image goes through every step and the draws select (no synchronisation);
    # on CPU only the images drawn are processed.
    sync_free = img.is_cuda
    if sync_free:
        jittered = color_jitter(img, factors, order, sync_free=True)
        img = torch.where(jitter.view(-1, 1, 1, 1), jittered, img)
    else:
        idx = jitter.nonzero().squeeze(1)
        if idx.numel():
            img = img.index_copy(0, idx, color_jitter(img[idx], factors[idx], order[idx], False))

    gray = torch.rand(n, generator=gen, device=dev) < recipe.gray_prob
    img = torch.where(gray.view(-1, 1, 1, 1), _gray(img, recipe.gray_weights).expand_as(img), img)

    blur = torch.rand(n, generator=gen, device=dev) < recipe.blur_prob
    sigma = _uniform(n, *recipe.blur_sigma, gen, dev)
    if sync_free:
        blurred = gaussian_blur(img, sigma, recipe.blur_sigma[1])
        img = torch.where(blur.view(-1, 1, 1, 1), blurred, img)
    else:
        idx = blur.nonzero().squeeze(1)
        if idx.numel():
            img = img.index_copy(0, idx, gaussian_blur(img[idx], sigma[idx], recipe.blur_sigma[1]))
    params = MoCoV2ViewParams(
        box=boxes,
        jitter=jitter,
        factors=factors,
        order=order,
        gray=gray,
        blur=blur,
        sigma=sigma,
        flip=flip,
    )
    return img, params


class MoCoV2Recipe:
    """MoCo-v2's augmentation ranges and probabilities (defaults: the MLS configs' view_pipeline).

    Args:
        scale (tuple[float, float]): RandomResizedCrop area fraction range. Defaults to (0.2, 1).
        ratio (tuple[float, float]): Aspect ratio (width / height) range.
            Defaults to (3 / 4, 4 / 3).
        jitter_prob (float): Probability of ColorJitter. Defaults to 0.8.
        brightness (float): Brightness factor in ``[1 - b, 1 + b]``. Defaults to 0.4.
        contrast (float): Contrast factor in ``[1 - c, 1 + c]``. Defaults to 0.4.
        saturation (float): Saturation factor in ``[1 - s, 1 + s]``. Defaults to 0.4.
        hue (float): Hue shift in ``[-hue, hue]`` turns. Defaults to 0.1.
        gray_prob (float): Probability of RandomGrayscale. Defaults to 0.2.
        gray_weights (tuple[float, float, float]): Its R, G, B weights, normalised.
            Defaults to (0.2989, 0.587, 0.114).
        blur_prob (float): Probability of GaussianBlur. Defaults to 0.5.
        blur_sigma (tuple[float, float]): Its sigma range, pixels of the view.
            Defaults to (0.1, 2.0).
        flip_prob (float): Probability of a horizontal flip. Defaults to 0.5.
        antialias (bool): Average several samples per view pixel when the crop is shrunk, as
            Pillow's resize of the CPU path does; False samples once (aliased, cheaper).
            Defaults to True.
    """

    def __init__(
        self,
        scale: Tuple[float, float] = (0.2, 1.0),
        ratio: Tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
        jitter_prob: float = 0.8,
        brightness: float = 0.4,
        contrast: float = 0.4,
        saturation: float = 0.4,
        hue: float = 0.1,
        gray_prob: float = 0.2,
        gray_weights: Tuple[float, float, float] = GRAY_WEIGHTS,
        blur_prob: float = 0.5,
        blur_sigma: Tuple[float, float] = (0.1, 2.0),
        flip_prob: float = 0.5,
        antialias: bool = True,
    ) -> None:
        def check_range(name, value, low, high):
            if len(value) != 2 or not low <= value[0] <= value[1] <= high:
                raise ValueError(
                    f'MoCoV2TwoViewPreprocessor: `recipe.{name}` must be (min, max) with '
                    f'{low} <= min <= max <= {high}, got {value!r}'
                )
            return (float(value[0]), float(value[1]))

        for name, p in (
            ('jitter_prob', jitter_prob),
            ('gray_prob', gray_prob),
            ('blur_prob', blur_prob),
            ('flip_prob', flip_prob),
        ):
            if not 0 <= p <= 1:
                raise ValueError(
                    f'MoCoV2TwoViewPreprocessor: `recipe.{name}` must be in [0, 1], got {p}'
                )
        for name, value in (('brightness', brightness), ('contrast', contrast)):
            if not 0 <= value:
                raise ValueError(
                    f'MoCoV2TwoViewPreprocessor: `recipe.{name}` must be >= 0, got {value}'
                )
        if not 0 <= saturation or not 0 <= hue <= 0.5:
            raise ValueError(
                'MoCoV2TwoViewPreprocessor: `recipe.saturation` must be >= 0 and `recipe.hue` '
                f'in [0, 0.5], got {saturation} and {hue}'
            )
        self.scale = check_range('scale', scale, 1e-6, 1.0)
        self.ratio = check_range('ratio', ratio, 1e-6, float('inf'))
        self.jitter_prob = float(jitter_prob)
        self.jitter_ranges = (
            (max(0.0, 1 - brightness), 1 + brightness),
            (max(0.0, 1 - contrast), 1 + contrast),
            (max(0.0, 1 - saturation), 1 + saturation),
            (-float(hue), float(hue)),
        )
        self.gray_prob = float(gray_prob)
        if len(gray_weights) != 3 or min(gray_weights) < 0 or sum(gray_weights) <= 0:
            raise ValueError(
                'MoCoV2TwoViewPreprocessor: `recipe.gray_weights` must be three non-negative '
                f'R, G, B weights, got {gray_weights!r}'
            )
        self.gray_weights = tuple(float(v) / sum(gray_weights) for v in gray_weights)
        self.blur_prob = float(blur_prob)
        self.blur_sigma = check_range('blur_sigma', blur_sigma, 1e-6, float('inf'))
        self.flip_prob = float(flip_prob)
        self.antialias = bool(antialias)


@MODELS.register_module()
class MoCoV2TwoViewPreprocessor(SelfSupDataPreprocessor):
    """Makes MoCo-v2's two views of each image on the model's device, from uint8 canvases.

    In training (``training=True``) the data loader's batch is ``inputs``: a ``(B, 3, S, S)``
    uint8 tensor of images fitted into a square canvas by :class:`ResizeToCanvas` (BGR as
    ``LoadImageFromFile`` reads them), and data samples whose metainfo holds ``canvas_valid``
    (the image's height and width on the canvas) and ``ori_shape``. The output is what
    :class:`SelfSupDataPreprocessor` gives for the CPU pipeline's ``MultiView`` of two views:
    ``dict(inputs=[view_1, view_2], data_samples=data_samples)``, each view a normalised
    float32 ``(B, 3, H, W)`` tensor. Every image of every view gets its own crop, jitter,
    grayscale, blur and flip draws (:func:`mocov2_views`); both views are made in one batch
    of ``2B``.

    Outside training (feature extraction of single images) it is ``SelfSupDataPreprocessor``.

    The random draws come from a generator on the device, seeded at the first batch with
    ``seed`` or, when None, with a draw from torch's global generator (which mmengine's
    ``randomness.seed`` seeds) plus the rank. Its state is part of the module's state dict
    (``get_extra_state``), so a checkpoint resumed on the same kind of device continues the
    stream.

    Args:
        size (int | tuple[int, int]): The views' size, as RandomResizedCrop's ``scale``.
        mean (Sequence[float]): Normalisation mean, RGB, 0-255 scale.
        std (Sequence[float]): Normalisation std, RGB, 0-255 scale.
        to_rgb (bool): The canvases are BGR (``LoadImageFromFile``); flip the channels first.
            Defaults to True.
        recipe (dict, optional): :class:`MoCoV2Recipe` arguments overriding MoCo-v2's.
        seed (int, optional): Seed of the generator. Defaults to None.
        non_blocking (bool): Copy the batch to the device asynchronously. Defaults to True.
    """

    def __init__(
        self,
        size: Union[int, Tuple[int, int]],
        mean: Sequence[float],
        std: Sequence[float],
        to_rgb: bool = True,
        recipe: Optional[dict] = None,
        seed: Optional[int] = None,
        non_blocking: bool = True,
    ) -> None:
        super().__init__(mean=mean, std=std, to_rgb=to_rgb, non_blocking=non_blocking)
        if isinstance(size, int):
            size = (size, size)
        if len(size) != 2 or min(size) < 1:
            raise ValueError(
                f'MoCoV2TwoViewPreprocessor: `data_preprocessor.size` must be an int or '
                f'(height, width) >= 1, got {size!r}'
            )
        self.size = (int(size[0]), int(size[1]))
        self.recipe = MoCoV2Recipe(**(recipe or {}))
        self.seed = seed
        self.generator: Optional[torch.Generator] = None
        self._pending_state: Optional[dict] = None

    def _generator(self, device: torch.device) -> torch.Generator:
        if self.generator is not None and self.generator.device == device:
            return self.generator
        self.generator = torch.Generator(device=device)
        state = self._pending_state
        self._pending_state = None
        if state is not None and state.get('device_type') == device.type:
            self.generator.set_state(state['state'])
            return self.generator
        seed = self.seed
        if seed is None:
            seed = int(torch.randint(2**62, (1,)).item())
        self.generator.manual_seed(seed + get_rank())
        return self.generator

    def get_extra_state(self) -> dict:
        """The generator's state (empty before the first batch), saved with the model."""
        if self.generator is None:
            return dict(self._pending_state or {})
        return dict(device_type=self.generator.device.type, state=self.generator.get_state())

    def set_extra_state(self, state: dict) -> None:
        """Continue from a saved generator state (applied at the next batch)."""
        self._pending_state = dict(state) if state else None
        self.generator = None

    def _shapes(self, data_samples: Optional[list], key: str) -> torch.Tensor:
        if not data_samples or key not in data_samples[0]:
            raise ValueError(
                f'MoCoV2TwoViewPreprocessor needs `{key}` in every data sample: the train '
                "pipeline must end with dict(type='ResizeToCanvas', ...) and "
                f"dict(type='PackInputs', meta_keys=(..., '{key}')) "
                '(train_dataloader.dataset.pipeline)'
            )
        return torch.tensor([tuple(ds.get(key)[:2]) for ds in data_samples], dtype=torch.float64)

    def forward(self, data: dict, training: bool = False) -> Dict[str, object]:
        """Two normalised views per image in training; normalisation only otherwise.

        Args:
            data (dict): A collated batch, ``inputs`` and ``data_samples``.
            training (bool): Whether to make the views. Defaults to False.

        Returns:
            dict: ``inputs`` (a list of two ``(B, 3, H, W)`` float tensors in training) and
            ``data_samples``.
        """
        if not training:
            return super().forward(data, training)
        inputs, data_samples = data['inputs'], data.get('data_samples')
        if (
            not isinstance(inputs, torch.Tensor)
            or inputs.dim() != 4
            or inputs.dtype != torch.uint8
            or inputs.shape[1] != 3
        ):
            got = (
                f'a {inputs.dtype} tensor of shape {tuple(inputs.shape)}'
                if isinstance(inputs, torch.Tensor)
                else type(inputs).__name__
            )
            raise ValueError(
                'MoCoV2TwoViewPreprocessor: training batches must be one uint8 (B, 3, S, S) '
                f'tensor of canvases, got {got}; the train pipeline '
                '(train_dataloader.dataset.pipeline) must be LoadImageFromFile, ResizeToCanvas, '
                'PackInputs, without MultiView'
            )
        valid_hw = self._shapes(data_samples, 'canvas_valid')
        ori_hw = self._shapes(data_samples, 'ori_shape')
        canvas = self.cast_data(inputs)
        device = canvas.device
        if self._channel_conversion:
            canvas = canvas.flip(1)
        canvas = canvas.float().div_(255)
        gen = self._generator(device)
        views, _ = mocov2_views(
            torch.cat([canvas, canvas]),
            valid_hw.repeat(2, 1).to(device),
            ori_hw.repeat(2, 1).to(device),
            gen,
            self.size,
            self.recipe,
        )
        views = (views * 255 - self.mean) / self.std
        return {'inputs': list(views.chunk(2)), 'data_samples': data_samples}
