"""Build a pretrained model from its config for analysis, outside a Runner."""

import copy
import os.path as osp
from typing import Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmpretrain.registry import MODELS


def build_model(cfg: Config, checkpoint: Optional[str] = None) -> torch.nn.Module:
    """The model of ``cfg`` in eval mode on the CPU, loaded from ``checkpoint``.

    As the Runner does, the config's top-level ``data_preprocessor`` becomes
    the model's, so inputs are normalised as in training. Without a
    checkpoint the model is initialised with the config's seed.
    """
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    torch.manual_seed(cfg.get('randomness', {}).get('seed') or 0)
    model = MODELS.build(model_cfg)
    if checkpoint is None:
        model.init_weights()
    else:
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True, logger='silent')
    return model.eval()


def load_pretrained_model(config: str, checkpoint: str) -> Tuple[Config, torch.nn.Module]:
    """Read ``config`` and build its model from ``checkpoint``."""
    if not osp.isfile(config):
        raise FileNotFoundError(f'config not found: {config}')
    cfg = Config.fromfile(config)
    return cfg, build_model(cfg, checkpoint)


def momentum_backbone(model: torch.nn.Module) -> torch.nn.Module:
    """The key (EMA) encoder's backbone of MLS (``target_net``) or MoCo (``encoder_k``)."""
    ema = getattr(model, 'target_net', None) or getattr(model, 'encoder_k', None)
    if ema is None:
        raise TypeError(f'{type(model).__name__} has no momentum encoder')
    return ema.module[0]
