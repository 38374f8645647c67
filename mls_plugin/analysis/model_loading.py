"""Build a pretrained model from its config for analysis, outside a Runner."""

import copy
import os.path as osp
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmpretrain.registry import MODELS


def build_model(cfg: Config, checkpoint: Optional[str] = None) -> nn.Module:
    """The model of ``cfg`` in eval mode on the CPU, loaded from ``checkpoint``.

    As the Runner does, the config's top-level ``data_preprocessor`` becomes
    the model's, so inputs are normalised as in training.

    Args:
        cfg (Config): A pretraining config.
        checkpoint (str, optional): An mmengine checkpoint of that config,
            loaded strictly. Defaults to None: the model is initialised with
            the config's seed (the reference that pretraining has to beat).

    Returns:
        nn.Module: The model, in eval mode.

    Raises:
        FileNotFoundError: If ``checkpoint`` is not a file.
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


def load_pretrained_model(config: str, checkpoint: str) -> Tuple[Config, nn.Module]:
    """Read ``config`` and build its model from ``checkpoint`` (see :func:`build_model`).

    Raises:
        FileNotFoundError: If ``config`` or ``checkpoint`` is not a file.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config not found: {config}')
    cfg = Config.fromfile(config)
    return cfg, build_model(cfg, checkpoint)


def momentum_encoder(model: nn.Module) -> Tuple[nn.Module, nn.Module]:
    """The key (EMA) encoder's ``(backbone, neck)`` of MLS (``target_net``) or MoCo (``encoder_k``).

    Raises:
        TypeError: If the model has no momentum encoder.
    """
    ema = getattr(model, 'target_net', None) or getattr(model, 'encoder_k', None)
    if ema is None:
        raise TypeError(f'{type(model).__name__} has no momentum encoder')
    backbone, neck = ema.module
    return backbone, neck


def momentum_backbone(model: nn.Module) -> nn.Module:
    """The key (EMA) encoder's backbone, see :func:`momentum_encoder`."""
    return momentum_encoder(model)[0]
