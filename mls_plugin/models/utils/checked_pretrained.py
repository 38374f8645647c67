"""Load pretrained backbone weights and refuse to do it silently wrong.

mmengine's ``Pretrained`` initializer loads with ``strict=False``: a missing or
misnamed key is a warning lost in the log and the layer stays random. For a
transfer benchmark that silently measures a random stem. ``CheckedPretrained``
loads with ``weights_only=True``, compares every tensor of the module with the
checkpoint and raises, with counts and examples, on any missing key, any
unexpected key that is not explicitly allowed, and any shape mismatch.
"""

import os.path as osp
from typing import Dict, Iterable, Mapping, Sequence

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model.weight_init import update_init_info
from mmengine.registry import WEIGHT_INITIALIZERS


def load_backbone_state(checkpoint: str, prefix: str = 'backbone.') -> Dict[str, torch.Tensor]:
    """Backbone tensors from an MLS/runner checkpoint or an extracted file.

    Accepts a runner checkpoint (``{'state_dict': {...}}``) or a plain dict of
    tensors; keys under ``prefix`` are taken with the prefix stripped. A file
    that has no key under ``prefix`` is taken to be a backbone file already
    (``tools/model_converters/extract_backbone_weights.py``).
    """
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'pretrained checkpoint not found: {checkpoint} (set `pretrained` in the config '
            'or pass --pretrained PATH to tools/train.py)'
        )
    ckpt = torch.load(checkpoint, map_location='cpu', weights_only=True)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, Mapping) else None
    if not isinstance(state, Mapping):
        raise ValueError(f'{checkpoint} holds no state dict (got {type(ckpt).__name__})')
    if prefix and any(k.startswith(prefix) for k in state):
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    return {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}


def _matches(key: str, prefixes: Iterable[str]) -> bool:
    return any(key.startswith(p) for p in prefixes)


@WEIGHT_INITIALIZERS.register_module(name='CheckedPretrained')
class CheckedPretrainedInit:
    """``init_cfg=dict(type='CheckedPretrained', checkpoint=..., prefix='backbone.')``.

    Args:
        checkpoint (str): Runner checkpoint (e.g. of MLS pretraining) or a
            backbone file.
        prefix (str): Key prefix of the module's weights in the checkpoint.
            Defaults to 'backbone.'.
        allow_unexpected (Sequence[str]): Prefixes of checkpoint keys this
            module is known not to use, e.g. ``('layer4.',)`` for a C4
            backbone whose last stage lives in the RoI head. Defaults to ().
        allow_missing (Sequence[str]): Prefixes of module keys that may stay
            as initialised. Defaults to ().
    """

    def __init__(
        self,
        checkpoint: str,
        prefix: str = 'backbone.',
        allow_unexpected: Sequence[str] = (),
        allow_missing: Sequence[str] = (),
    ) -> None:
        self.checkpoint = checkpoint
        self.prefix = prefix
        self.allow_unexpected = tuple(allow_unexpected)
        self.allow_missing = tuple(allow_missing)

    def __call__(self, module: nn.Module) -> None:
        source = load_backbone_state(self.checkpoint, self.prefix)
        own = module.state_dict()
        missing = [k for k in own if k not in source and not _matches(k, self.allow_missing)]
        unexpected = [k for k in source if k not in own and not _matches(k, self.allow_unexpected)]
        mismatched = [
            f'{k}: {tuple(source[k].shape)} vs {tuple(v.shape)}'
            for k, v in own.items()
            if k in source and source[k].shape != v.shape
        ]
        name = type(module).__name__
        if missing or unexpected or mismatched:
            raise KeyError(
                f'CheckedPretrained: {self.checkpoint} (prefix {self.prefix!r}) does not fit '
                f'{name}: {len(missing)} missing, {len(unexpected)} unexpected, '
                f'{len(mismatched)} with another shape. Missing e.g. {missing[:5]}; '
                f'unexpected e.g. {unexpected[:5]}; shapes e.g. {mismatched[:3]}. Use '
                '`allow_unexpected` / `allow_missing` for keys that are meant to differ.'
            )
        loaded = {k: v for k, v in source.items() if k in own}
        module.load_state_dict(loaded, strict=False)
        print_log(
            f'CheckedPretrained: {name} <- {self.checkpoint} (prefix {self.prefix!r}): '
            f'{len(loaded)}/{len(own)} tensors loaded, '
            f'{len(source) - len(loaded)} checkpoint tensors allowed unused',
            logger='current',
        )
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=f'CheckedPretrained: {self.checkpoint}')


def set_pretrained(model_cfg: dict, checkpoint: str) -> int:
    """Point every ``CheckedPretrained`` init_cfg in a model config at ``checkpoint``.

    Returns:
        int: How many init_cfgs were changed.

    Raises:
        KeyError: If the config has none, so ``--pretrained`` cannot be a no-op.
    """
    count = 0

    def visit(node) -> None:
        nonlocal count
        if isinstance(node, dict):
            if node.get('type') == 'CheckedPretrained':
                node['checkpoint'] = checkpoint
                count += 1
            for value in node.values():
                visit(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)

    visit(model_cfg)
    if count == 0:
        raise KeyError(
            '--pretrained: the model config has no init_cfg of type CheckedPretrained to point '
            'at the checkpoint'
        )
    return count
