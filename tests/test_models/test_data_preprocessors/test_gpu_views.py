"""The views made on the device (MoCoV2TwoViewPreprocessor) against the CPU pipeline.

Each transform's random parameters and simple statistics of the images it makes are drawn
many times from both paths and compared: distributions by the two-sample Kolmogorov-Smirnov
distance, rates by a binomial tolerance. Every comparison is also run against a planted wrong
range or probability, which it must reject, so a tolerance too loose to see a wrong recipe
fails the suite.
"""

import copy
import math
import subprocess
import sys

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS, TRANSFORMS
from mmpretrain.structures import DataSample

import mls_plugin  # noqa: F401
from mls_plugin.datasets import ResizeToCanvas
from mls_plugin.models.data_preprocessors import (
    MoCoV2Recipe,
    MoCoV2TwoViewPreprocessor,
    mocov2_views,
    sample_crops,
)
from mls_plugin.models.data_preprocessors.mocov2_views import color_jitter, rgb_to_hsv

CPU_CONFIG = 'configs/mls/small_scale/mls_resnet18_1xb32-coslr-40e_coco-scenes-64px.py'
GPU_CONFIG = 'configs/mls/small_scale/mls_resnet18_1xb32-coslr-40e_coco-scenes-64px-gpu-views.py'
MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]
N = 2000  # draws per distribution
# Two-sample KS critical distance at alpha = 1e-3 (c = 1.95): a false alarm in 1,000 runs.
KS_CRIT = 1.95 * math.sqrt(2 / N)


def ks_distance(a, b) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the two ECDFs.

    Values closer than a thousandth of the pooled std count as equal (a Levy-style slack):
    an image left unchanged (20 % of the views skip the jitter) gives the same statistic up
    to float rounding in both paths, and without the slack that point mass, a hair apart,
    would read as a gap of 0.2.
    """
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    eps = 1e-3 * np.concatenate([a, b]).std()
    grid = np.concatenate([a, b])

    def ecdf(x, at):
        return np.searchsorted(x, at, side='right') / len(x)

    gap = max(
        (ecdf(a, grid) - ecdf(b, grid + eps)).max(), (ecdf(b, grid) - ecdf(a, grid + eps)).max()
    )
    return float(gap)


def same_distribution(a, b) -> bool:
    return ks_distance(a, b) < KS_CRIT


def same_rate(a, b) -> bool:
    """Two rates of N draws agree within 4.5 standard errors of their difference."""
    pa, pb = float(np.mean(a)), float(np.mean(b))
    p = (pa + pb) / 2
    return abs(pa - pb) < 4.5 * math.sqrt(max(p * (1 - p), 1e-4) * 2 / N)


@pytest.fixture(scope='module')
def cpu_view_pipeline(repo_root):
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(str(repo_root / CPU_CONFIG))
    return {t['type']: TRANSFORMS.build(t) for t in cfg.view_pipeline}


@pytest.fixture(scope='module')
def photo(coco_scenes):
    """One real coco_scenes photo, BGR uint8 as LoadImageFromFile reads it."""
    path = sorted((coco_scenes / 'images' / 'train').iterdir())[3]
    return mmcv.imread(str(path))


def device_views(img_bgr, recipe, n=N, size=None, canvas=None, seed=0):
    """``n`` device views of one BGR image through ResizeToCanvas, in [0, 1] RGB, + params."""
    canvas_t = ResizeToCanvas(canvas or max(img_bgr.shape[:2]))
    packed = canvas_t(dict(img=img_bgr.copy(), ori_shape=img_bgr.shape[:2]))
    x = torch.from_numpy(packed['img'][..., ::-1].copy()).permute(2, 0, 1).float() / 255
    batch = x[None].expand(n, -1, -1, -1).contiguous()
    valid = torch.tensor([packed['canvas_valid']] * n, dtype=torch.float64)
    ori = torch.tensor([img_bgr.shape[:2]] * n, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    size = size or img_bgr.shape[:2]
    return mocov2_views(batch, valid, ori, gen, tuple(size), recipe)


def cpu_views(transforms, img_bgr, n=N, seed=0):
    """``n`` views of one image through CPU transforms, as float RGB arrays in [0, 1]."""
    np.random.seed(seed)
    out = []
    for _ in range(n):
        results = dict(img=img_bgr.copy(), img_shape=img_bgr.shape[:2])
        for t in transforms:
            results = t(results)
        out.append(results['img'][..., ::-1].astype(np.float32) / 255)
    return np.stack(out).transpose(0, 3, 1, 2)


# ---------------------------------------------------------------- RandomResizedCrop ----------


SHAPES = [(160, 213), (213, 160), (160, 160), (60, 200)]  # the last often needs the fallback


def crop_stats(boxes, shape):
    top, left, h, w = (np.asarray(v, float) for v in boxes)
    return dict(
        area=h * w / (shape[0] * shape[1]),
        log_aspect=np.log(w / h),
        centre_y=(top + h / 2) / shape[0],
        centre_x=(left + w / 2) / shape[1],
    )


def cpu_crop_stats(rrc, shape):
    np.random.seed(1)
    img = np.zeros((*shape, 3), np.uint8)
    boxes = np.array([rrc.rand_crop_params(img) for _ in range(N)]).T  # top, left, h, w
    return crop_stats(boxes, shape)


def device_crop_stats(recipe, shape):
    gen = torch.Generator().manual_seed(2)
    boxes = sample_crops(torch.tensor([shape] * N, dtype=torch.float64), recipe.scale,
                         recipe.ratio, gen)  # fmt: skip
    return crop_stats(boxes.T.numpy(), shape)


def crops_agree(rrc, recipe) -> bool:
    for shape in SHAPES:
        cpu, dev = cpu_crop_stats(rrc, shape), device_crop_stats(recipe, shape)
        if not all(same_distribution(cpu[k], dev[k]) for k in cpu):
            return False
    return True


def test_crop_parameters_follow_the_cpu_random_resized_crop(cpu_view_pipeline):
    """Area fraction, aspect and position of the boxes, the 10 tries + fallback included."""
    rrc = cpu_view_pipeline['RandomResizedCrop']
    assert crops_agree(rrc, MoCoV2Recipe())
    # The elongated image falls back to the central crop in both, equally often.
    fallback = (60 * round(60 * 4 / 3)) / (60 * 200)
    cpu, dev = cpu_crop_stats(rrc, (60, 200)), device_crop_stats(MoCoV2Recipe(), (60, 200))
    assert same_rate(np.isclose(cpu['area'], fallback), np.isclose(dev['area'], fallback))
    assert 0.05 < np.isclose(dev['area'], fallback).mean() < 0.95


@pytest.mark.parametrize(
    'planted', [dict(scale=(0.08, 1.0)), dict(scale=(0.3, 1.0)), dict(ratio=(0.5, 2.0))]
)
def test_crop_comparison_rejects_a_planted_range(cpu_view_pipeline, planted):
    assert not crops_agree(cpu_view_pipeline['RandomResizedCrop'], MoCoV2Recipe(**planted))


def gradient_image(h=160, w=213):
    """R encodes x, G encodes y (BGR order, as read): a view's statistics reveal its crop."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 2] = np.linspace(0, 255, w)[None, :]
    img[..., 1] = np.linspace(0, 255, h)[:, None]
    return img


def geometry_stats(views):
    """Per view: crop centre (mean R, mean G), extent (R, G range), mirrored (R decreasing)."""
    v = np.asarray(views, float)
    r, g = v[:, 0], v[:, 1]
    return dict(
        centre_x=r.mean(axis=(1, 2)),
        centre_y=g.mean(axis=(1, 2)),
        width=r.max(axis=(1, 2)) - r.min(axis=(1, 2)),
        height=g.max(axis=(1, 2)) - g.min(axis=(1, 2)),
        flip=r[:, :, 0].mean(axis=1) > r[:, :, -1].mean(axis=1),
    )


@pytest.fixture(scope='module')
def cpu_geometry(cpu_view_pipeline):
    t = cpu_view_pipeline
    return geometry_stats(cpu_views([t['RandomResizedCrop'], t['RandomFlip']], gradient_image()))


def geometry_agrees(cpu, recipe) -> bool:
    only_geometry = dict(jitter_prob=0.0, gray_prob=0.0, blur_prob=0.0)
    views, _ = device_views(gradient_image(), MoCoV2Recipe(**recipe, **only_geometry),
                            size=(64, 64), canvas=224)  # fmt: skip
    dev = geometry_stats(views.numpy())
    flips = same_rate(cpu['flip'], dev['flip'])
    return flips and all(same_distribution(cpu[k], dev[k]) for k in cpu if k != 'flip')


def test_views_have_the_cpu_crop_geometry_and_flip_rate(cpu_geometry):
    """Views of a gradient image through the canvas: where the crop lies, its extent, mirror."""
    assert geometry_agrees(cpu_geometry, {})


@pytest.mark.parametrize('planted', [dict(flip_prob=0.35), dict(scale=(0.08, 1.0))])
def test_geometry_comparison_rejects_a_planted_error(cpu_geometry, planted):
    assert not geometry_agrees(cpu_geometry, planted)


def test_the_canvas_padding_never_enters_a_view():
    img = np.full((50, 200, 3), 200, np.uint8)  # padded to 200 x 200 below row 50
    plain = dict(jitter_prob=0.0, gray_prob=0.0, blur_prob=0.0)
    views, _ = device_views(img, MoCoV2Recipe(**plain), n=200, size=(32, 32), canvas=200)
    assert torch.allclose(views, torch.full_like(views, 200 / 255), atol=1e-5)


# ---------------------------------------------------------------- ColorJitter ----------------


def colour_stats(views):
    """Per view: mean luma, luma contrast (std), saturation, mean hue (circular)."""
    v = torch.as_tensor(np.asarray(views), dtype=torch.float64)
    luma = 0.299 * v[:, 0] + 0.587 * v[:, 1] + 0.114 * v[:, 2]
    maxc, minc = v.max(dim=1).values, v.min(dim=1).values
    hsv = rgb_to_hsv(v.float()).double()
    angle = hsv[:, 0] * 2 * math.pi
    weight = hsv[:, 1]  # saturated pixels carry the hue
    hue = torch.atan2((weight * angle.sin()).sum((1, 2)), (weight * angle.cos()).sum((1, 2)))
    return dict(
        brightness=luma.mean((1, 2)).numpy(),
        contrast=luma.std((1, 2)).numpy(),
        saturation=(maxc - minc).mean((1, 2)).numpy(),
        hue=hue.numpy(),
    )


@pytest.fixture(scope='module')
def small_photo(photo):
    return mmcv.imresize(photo[:, :160], (48, 48), backend='pillow')


@pytest.fixture(scope='module')
def cpu_colour(cpu_view_pipeline, small_photo):
    init_default_scope('mmpretrain')  # RandomApply builds its transforms in the default scope
    apply = TRANSFORMS.build(
        dict(
            type='RandomApply',
            transforms=[
                dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
            ],
            prob=0.8,
        )
    )
    return colour_stats(cpu_views([apply], small_photo))


def colour_agrees(cpu, small_photo, recipe) -> bool:
    # The whole image, unresampled: a box of the full image at its own size.
    only_jitter = dict(scale=(1.0, 1.0), ratio=(1.0, 1.0), gray_prob=0.0, blur_prob=0.0)
    views, _ = device_views(small_photo, MoCoV2Recipe(**recipe, **only_jitter))
    dev = colour_stats(views.numpy())
    return all(same_distribution(cpu[k], dev[k]) for k in cpu)


def test_colour_jitter_statistics_follow_the_cpu_path(cpu_colour, small_photo):
    """Brightness, contrast, saturation and hue of jittered views (p 0.8, random order)."""
    assert colour_agrees(cpu_colour, small_photo, {})


@pytest.mark.parametrize(
    'planted',
    [
        dict(brightness=0.6),
        dict(contrast=0.7),
        dict(saturation=0.8),
        dict(hue=0.2),
        dict(jitter_prob=0.6),
    ],
)
def test_colour_comparison_rejects_a_planted_error(cpu_colour, small_photo, planted):
    assert not colour_agrees(cpu_colour, small_photo, planted)


def test_colour_jitter_parameters_follow_the_cpu_draws(cpu_view_pipeline):
    """Factor ranges, the application rate and a uniformly random order per image."""
    from mmcv.transforms import RandomApply

    init_default_scope('mmpretrain')
    np.random.seed(3)
    jitter = TRANSFORMS.build(
        dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
    )
    apply = RandomApply(transforms=[jitter], prob=0.8)
    cpu = [jitter._rand_params() for _ in range(N)]
    cpu_applied = [apply.random_apply() for _ in range(N)]
    _, params = device_views(np.zeros((8, 8, 3), np.uint8), MoCoV2Recipe(), size=(8, 8))
    assert same_rate(cpu_applied, params['jitter'].numpy())
    for k in range(4):
        assert same_distribution([p[k + 1] for p in cpu], params['factors'][:, k].numpy())
        # Where adjustment k comes in the order: uniform over the 4 places in both.
        cpu_place = [list(p[0]).index(k) for p in cpu]
        dev_place = (params['order'] == k).float().argmax(dim=1).numpy()
        for place in range(4):
            assert same_rate(np.equal(cpu_place, place), dev_place == place)
    # Not one order for the batch (kornia's ColorJitter draws one per call).
    assert len({tuple(o) for o in params['order'].tolist()}) == 24


def test_the_sync_free_jitter_equals_the_selective_one():
    """CUDA's path (every image through every step) gives the CPU path's result."""
    gen = torch.Generator().manual_seed(0)
    img = torch.rand(16, 3, 12, 12, generator=gen)
    factors = torch.stack(
        [torch.rand(16, generator=gen) * 0.8 + 0.6 for _ in range(3)]
        + [torch.rand(16, generator=gen) * 0.2 - 0.1],
        dim=1,
    )
    order = torch.argsort(torch.rand(16, 4, generator=gen), dim=1)
    fast = color_jitter(img, factors, order, sync_free=True)
    assert torch.allclose(fast, color_jitter(img, factors, order, sync_free=False), atol=1e-5)
    assert not torch.allclose(fast, img, atol=1e-3)


# ---------------------------------------------------------- grayscale, blur, full views ------


def grey_and_sharpness(views):
    v = np.asarray(views, float)
    grey = np.abs(v[:, 0] - v[:, 1]).max(axis=(1, 2)) + np.abs(v[:, 1] - v[:, 2]).max(axis=(1, 2))
    luma = v.mean(axis=1)
    sharp = np.abs(np.diff(luma, axis=2)).mean(axis=(1, 2)) / (luma.std(axis=(1, 2)) + 1e-6)
    return dict(grey=grey < 2.5 / 255, sharpness=sharp)


@pytest.fixture(scope='module')
def cpu_full(cpu_view_pipeline, photo):
    t = cpu_view_pipeline
    pipeline = [
        t['RandomResizedCrop'],
        t['RandomApply'],
        t['RandomGrayscale'],
        t['GaussianBlur'],
        t['RandomFlip'],
    ]
    views = cpu_views(pipeline, photo)
    return {**grey_and_sharpness(views), **colour_stats(views)}


def full_agrees(cpu, photo, recipe) -> bool:
    views, _ = device_views(photo, MoCoV2Recipe(**recipe), size=(64, 64), canvas=224)
    dev = {**grey_and_sharpness(views.numpy()), **colour_stats(views.numpy())}
    return same_rate(cpu['grey'], dev['grey']) and all(
        same_distribution(cpu[k], dev[k]) for k in cpu if k != 'grey'
    )


def test_full_views_follow_the_cpu_pipeline(cpu_full, photo):
    """The whole recipe on a real photo: grayscale rate, sharpness (blur), colour statistics."""
    assert full_agrees(cpu_full, photo, {})


@pytest.mark.parametrize(
    'planted', [dict(gray_prob=0.3), dict(blur_prob=0.7), dict(blur_sigma=(1.0, 3.0))]
)
def test_full_comparison_rejects_a_planted_error(cpu_full, photo, planted):
    assert not full_agrees(cpu_full, photo, planted)


def test_grayscale_and_blur_parameters_follow_the_cpu_draws(cpu_view_pipeline):
    t = cpu_view_pipeline
    np.random.seed(4)
    cpu_grey = [t['RandomGrayscale']._random_prob() < 0.2 for _ in range(N)]
    blur = t['GaussianBlur']
    cpu_blur = [not blur.random_disable() for _ in range(N)]
    cpu_sigma = [blur.random_magnitude() for _ in range(N)]
    _, params = device_views(np.zeros((8, 8, 3), np.uint8), MoCoV2Recipe(), size=(8, 8))
    assert same_rate(cpu_grey, params['gray'].numpy())
    assert same_rate(cpu_blur, params['blur'].numpy())
    assert same_distribution(cpu_sigma, params['sigma'].numpy())
    assert not same_distribution(cpu_sigma, params['sigma'].numpy() * 1.3)


# ---------------------------------------------------------------- the preprocessor ----------


def canvas_batch(photo, n=4, size=224):
    fit = ResizeToCanvas(size)
    inputs, samples = [], []
    for i in range(n):
        img = photo[:, : photo.shape[1] - 7 * i]  # other shapes
        packed = fit(dict(img=img.copy(), ori_shape=img.shape[:2]))
        inputs.append(torch.from_numpy(packed['img']).permute(2, 0, 1).contiguous())
        samples.append(
            DataSample(metainfo=dict(canvas_valid=packed['canvas_valid'], ori_shape=img.shape[:2]))
        )
    return dict(inputs=torch.stack(inputs), data_samples=samples)


def preprocessor(**kwargs):
    return MoCoV2TwoViewPreprocessor(size=64, mean=MEAN, std=STD, **kwargs)


def test_output_is_what_the_cpu_paths_preprocessor_gives(photo):
    batch = canvas_batch(photo)
    out = preprocessor(seed=0)(batch, True)
    views = out['inputs']
    assert isinstance(views, list) and len(views) == 2
    for v in views:
        assert v.shape == (4, 3, 64, 64) and v.dtype == torch.float32
    assert out['data_samples'] is batch['data_samples']
    # Both views of every image differ (own crops, jitter, flips).
    assert all(not torch.allclose(views[0][i], views[1][i], atol=0.05) for i in range(4))
    # Outside training: SelfSupDataPreprocessor's normalisation of the batch as it is.
    reference = MODELS.build(dict(type='SelfSupDataPreprocessor', mean=MEAN, std=STD, to_rgb=True))
    plain = preprocessor()(batch, False)['inputs']
    assert torch.equal(plain, reference(batch, False)['inputs'])


def test_seeded_reproducibly_and_resumable_through_the_state_dict(photo):
    batch = canvas_batch(photo)
    a, b = preprocessor(seed=5), preprocessor(seed=5)
    first = a(batch, True)['inputs']
    assert all(torch.equal(x, y) for x, y in zip(first, b(batch, True)['inputs']))
    other = preprocessor(seed=6)(batch, True)['inputs']
    assert not torch.allclose(first[0], other[0])
    # A checkpoint carries the generator: a fresh preprocessor continues the stream.
    resumed = preprocessor(seed=99)
    resumed.load_state_dict(a.state_dict())
    assert all(
        torch.equal(x, y) for x, y in zip(a(batch, True)['inputs'], resumed(batch, True)['inputs'])
    )
    # Unseeded: the seed comes from torch's global generator (mmengine's randomness.seed).
    torch.manual_seed(1)
    c = preprocessor()(batch, True)['inputs']
    torch.manual_seed(1)
    assert torch.equal(c[0], preprocessor()(batch, True)['inputs'][0])


def test_bad_input_is_refused_naming_the_config_key(photo):
    batch = canvas_batch(photo)
    with pytest.raises(ValueError, match='train_dataloader.dataset.pipeline'):
        preprocessor()(dict(batch, inputs=[batch['inputs'], batch['inputs']]), True)
    bare = [DataSample(metainfo=dict(ori_shape=(1, 1))) for _ in range(4)]
    with pytest.raises(ValueError, match='canvas_valid'):
        preprocessor()(dict(batch, data_samples=bare), True)
    with pytest.raises(ValueError, match='recipe.scale'):
        preprocessor(recipe=dict(scale=(0.5, 0.2)))
    with pytest.raises(ValueError, match='recipe.gray_prob'):
        preprocessor(recipe=dict(gray_prob=1.5))
    with pytest.raises(ValueError, match='data_preprocessor.size'):
        MoCoV2TwoViewPreprocessor(size=(0, 64), mean=MEAN, std=STD)


# ---------------------------------------------------------------- the MLS loss --------------


def test_mls_loss_has_the_same_distribution_from_both_paths(repo_root, coco_scenes):
    """30 draws of the views of one fixed batch through a fixed network, each path.

    The mean loss of the two paths agrees within 4 standard errors of the difference (the
    draws are independent), and the spread of the draws within a factor 2.
    """
    init_default_scope('mmpretrain')
    cpu_cfg = Config.fromfile(str(repo_root / CPU_CONFIG))
    gpu_cfg = Config.fromfile(str(repo_root / GPU_CONFIG))
    cfg = copy.deepcopy(cpu_cfg.model)
    cfg.memory.length = 64
    cfg.data_preprocessor = cpu_cfg.data_preprocessor
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    gpu_pre = MODELS.build(dict(gpu_cfg.data_preprocessor, seed=0))

    def dataset(pipeline):
        d = dict(cpu_cfg.train_dataloader.dataset, pipeline=pipeline, indices=16)
        d['data_root'] = str(coco_scenes) + '/'
        return mls_plugin.datasets.SceneImageDataset(**{k: v for k, v in d.items() if k != 'type'})

    cpu_data = dataset(cpu_cfg.train_dataloader.dataset.pipeline)
    gpu_data = dataset(gpu_cfg.train_dataloader.dataset.pipeline)
    gpu_batch = default_collate([gpu_data[i] for i in range(16)])

    def loss(data):
        fresh = copy.deepcopy(model)  # the same queue and weights for every draw
        with torch.no_grad():
            return float(fresh(**data, mode='loss')['loss_nce'])

    np.random.seed(0)
    cpu_losses = [
        loss(model.data_preprocessor(default_collate([cpu_data[i] for i in range(16)]), True))
        for _ in range(30)
    ]
    gpu_losses = [loss(gpu_pre(gpu_batch, True)) for _ in range(30)]
    m1, m2 = np.mean(cpu_losses), np.mean(gpu_losses)
    s1, s2 = np.std(cpu_losses, ddof=1), np.std(gpu_losses, ddof=1)
    assert s1 > 0 and s2 > 0
    assert abs(m1 - m2) < 4 * math.sqrt((s1**2 + s2**2) / 30), (m1, m2, s1, s2)
    assert 0.5 < s1 / s2 < 2, (s1, s2)


# ---------------------------------------------------------------- tools/train.py -------------


@pytest.mark.slow
def test_gpu_views_config_trains_through_tools_train(repo_root, coco_scenes, tmp_path):
    """The coco_scenes GPU-views config, 64 images, 4 steps of 16, on CPU."""
    options = {
        'train_dataloader.dataset.data_root': f'{coco_scenes}/',
        'train_dataloader.dataset.indices': 64,
        'train_dataloader.batch_size': 16,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_cfg.max_epochs': 1,
        'param_scheduler.0.T_max': 1,
        'param_scheduler.0.end': 1,
        'default_hooks.logger.interval': 1,
        'default_hooks.checkpoint.interval': 1,
        'custom_hooks.4.before_train': False,
        'custom_hooks.4.bank_dataloader.dataset.data_root': f'{coco_scenes}/',
        'custom_hooks.4.query_dataloader.dataset.data_root': f'{coco_scenes}/',
    }
    cmd = [sys.executable, 'tools/train.py', GPU_CONFIG, '--work-dir', str(tmp_path)]
    cmd += ['--cfg-options', *(f'{k}={v}' for k, v in options.items())]
    run = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    import json

    rows = []
    for path in tmp_path.glob('*/vis_data/scalars.json'):
        rows += [json.loads(line) for line in path.read_text().splitlines()]
    losses = [r for r in rows if 'loss_nce' in r]
    assert len(losses) == 4
    assert all(math.isfinite(r['loss_nce']) and r['loss_nce'] > 0 for r in losses)
    state = torch.load(tmp_path / 'epoch_1.pth', weights_only=True)['state_dict']
    assert state['data_preprocessor._extra_state']['device_type'] == 'cpu'
