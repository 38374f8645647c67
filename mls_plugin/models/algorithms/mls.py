"""MLS: Multi-Label Self-supervised learning (Zhu et al., ICCV 2023)."""

import logging
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.distributed as torch_dist
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import get_rank, get_world_size
from mmengine.logging import MessageHub, print_log
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils import (
    MomentumEncoder,
    backbone_featmap,
    gather_rows,
    pool_featmap,
    projection_health,
    shuffle_rows,
    unshuffle_own_rows,
    uses_split_batch_norm,
)


@MODELS.register_module()
class MLS(BaseSelfSupervisor):
    """`Multi-Label Self-Supervised Learning with Scene Images
    <https://arxiv.org/abs/2308.03286>`_.

    MoCo-v2 with a second, multi-label objective: each query is trained with
    BCE against pseudo-labels that mark its ``k`` nearest queue entries in
    backbone-feature space (see :class:`MLSHead`). The queue
    (:class:`QueueMemory`) keeps two aligned banks, ``g`` (pooled backbone
    features, ``d_g``) and ``z`` (projections, ``d_z``).

    Momentum convention: mmengine's EMA, ``key = (1 - momentum) * key +
    momentum * online``, updated once per step before the keys are computed
    (:class:`MomentumEncoder`).
    The paper's ``m = 0.995`` is therefore ``momentum=0.005``.

    Args:
        backbone (dict): Backbone config; its last output is average-pooled
            into ``g`` (e.g. ResNet-50, ``d_g = 2048``).
        neck (dict): Projector config taking ``(g,)``, e.g. ``MoCoV2Neck``
            with ``with_avg_pool=False``.
        head (dict): :class:`MLSHead` config.
        memory (dict): :class:`QueueMemory` config with banks ``g`` and ``z``.
        momentum (float): EMA momentum of the key encoder (mmengine
            convention above). Defaults to 0.005.
        log_health (bool | int): Also return the projection's health scalars
            (:func:`projection_health`: mean ``z1 Q_z^T``, the queue's mean
            norm and effective rank, ...) for the logs. They cost one ``d x d``
            eigendecomposition, on a GPU a cuSOLVER call and a wait for the
            device: an int ``N`` computes them only at every ``N``-th
            training iteration (set it to the logger's interval; the logged
            value is then the mean of the last measurements in its window),
            True at every one, False never. Defaults to True.
        shuffle_group_size (int, optional): The ranks that shuffle-BN shuffles
            the key view across: None, all ranks (MoCo); ``n``, each group of
            ``n`` consecutive ranks (e.g. a node's GPUs, so the views never
            leave the node: MoCo's all-gather receives ``(world - 1) B`` images
            per rank per step, docs/performance.md). A key's BN statistics
            need only be computed on other images than its query's, which a
            group of two or more ranks gives. The world size must be a
            multiple of ``n``. Defaults to None.
        channels_last (bool): Keep the parameters and the views in
            channels-last memory format: oneDNN's convolutions run faster on
            it on CPU (cuDNN's under AMP should too; not measured here). The
            numbers are those of the default layout up to float rounding.
            Defaults to False.
        pretrained (str, optional): Checkpoint to initialise from.
            Defaults to None.
        data_preprocessor (dict, optional): Defaults to
            ``SelfSupDataPreprocessor``.
        init_cfg (dict | list, optional): Initialisation config.
            Defaults to None.
    """

    def __init__(
        self,
        backbone: dict,
        neck: dict,
        head: dict,
        memory: dict,
        momentum: float = 0.005,
        log_health: Union[bool, int] = True,
        shuffle_group_size: Optional[int] = None,
        channels_last: bool = False,
        pretrained: Optional[str] = None,
        data_preprocessor: Optional[dict] = None,
        init_cfg: Optional[Union[List[dict], dict]] = None,
    ) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg,
        )
        if not 0 < momentum <= 1:
            raise ValueError(
                f'MLS: `momentum` must be in (0, 1] (mmengine EMA convention: '
                f'the paper m = 0.995 is momentum=0.005), got {momentum}'
            )
        if momentum > 0.5:
            # The paper's m = 0.995 typed as momentum=0.995 builds and trains, and the key
            # encoder then copies the online one: not MLS.
            print_log(
                f'MLS: momentum={momentum} makes the key encoder follow the online one almost '
                f'fully (mmengine EMA: key = (1 - momentum) * key + momentum * online). The '
                f"paper's m = 0.995 is momentum=0.005; {momentum} is m = {1 - momentum:g}.",
                logger='current',
                level=logging.WARNING,
            )
        if not isinstance(log_health, (bool, int)) or (
            not isinstance(log_health, bool) and log_health < 1
        ):
            raise ValueError(f'MLS: `log_health` must be a bool or an int >= 1, got {log_health!r}')
        self.log_health = log_health
        if shuffle_group_size is not None and (
            isinstance(shuffle_group_size, bool)
            or not isinstance(shuffle_group_size, int)
            or shuffle_group_size < 2
        ):
            raise ValueError(
                'MLS: `shuffle_group_size` must be None (all ranks) or an int >= 2 (ranks that '
                f'shuffle together, e.g. the GPUs of a node), got {shuffle_group_size!r}'
            )
        self.shuffle_group_size = shuffle_group_size
        self._shuffle_group: Optional[torch_dist.ProcessGroup] = None
        self.memory = MODELS.build(memory)
        if set(self.memory.names) != {'g', 'z'}:
            raise ValueError(
                f'MLS: `memory.banks` must be exactly dict(g=d_g, z=d_z), got {self.memory.names}'
            )
        self.head.check_queue_length(self.memory.length)  # at build time, not the first step
        online = nn.Sequential(self.backbone, self.neck)
        self.target_net = MomentumEncoder(online, momentum)
        self._split_bn = uses_split_batch_norm(online)
        self.channels_last = channels_last
        if channels_last:
            # In place on the 4-d parameters, the key encoder's included: the EMA's fused lerp
            # pairs tensors of the same layout.
            self.to(memory_format=torch.channels_last)

    # Features of :meth:`_features` that a loss reads for this rank's own images only and no
    # queue stores: under shuffle-BN they go back to their owners by one all-to-all instead of
    # being gathered from every rank (a subclass's large per-image maps).
    own_only_features: Tuple[str, ...] = ()

    def _featmap(self, backbone: nn.Module, img: torch.Tensor) -> torch.Tensor:
        """The backbone's last output, refused unless a ``(B, C, H, W)`` map."""
        if self.channels_last:
            # At the backbone's entry, so every view (the shuffled key view too) gets it once.
            img = img.contiguous(memory_format=torch.channels_last)
        return backbone_featmap(backbone, img)

    def _encode(self, backbone: nn.Module, neck: nn.Module, img: torch.Tensor) -> Tuple:
        """Pooled backbone feature ``g`` and normalised projection ``z``."""
        g = pool_featmap(self._featmap(backbone, img))
        z = F.normalize(neck((g,))[0], dim=1)
        return g, z

    @torch.no_grad()
    def encode(
        self, img: torch.Tensor, branch: str = 'online'
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(g, z)`` of a ``(B, C, H, W)`` batch, as training computes them, without gradient.

        The public encoder for evaluation, hooks and analysis: ``g`` the pooled backbone
        feature (not normalised; what ranks the queue), ``z`` the L2-normalised projection.

        Args:
            img (Tensor): Preprocessed images (``data_preprocessor`` output).
            branch (str): ``'online'`` (the queries' encoder) or ``'key'`` (the momentum
                encoder, whose outputs the queue stores). Defaults to 'online'.
        """
        if branch == 'online':
            backbone, neck = self.backbone, self.neck
        elif branch == 'key':
            backbone, neck = self.target_net.module
        else:
            raise ValueError(
                f"{type(self).__name__}.encode: `branch` must be 'online' or 'key', got {branch!r}"
            )
        return self._encode(backbone, neck, img)

    def _features(
        self, backbone: nn.Module, neck: nn.Module, img: torch.Tensor
    ) -> Dict[str, torch.Tensor]:
        """Everything one encoder gives a view, by name; a subclass adds its own."""
        return dict(zip(('g', 'z'), self._encode(backbone, neck, img)))

    @torch.no_grad()
    def _momentum_keys(
        self, view: torch.Tensor
    ) -> Tuple[Dict[str, torch.Tensor], Dict[str, torch.Tensor]]:
        """Update the key encoder, then encode ``view`` with it (:meth:`_features`).

        Under DDP, or with SplitBN on one process, the batch is shuffled
        before the key encoder (shuffle-BN, MoCo): a key must not share BN
        statistics with its own query, else BN leaks a shortcut.

        Returns:
            tuple[dict, dict]: Every rank's queue keys in rank order (what the
            queues store, ``(B x world_size, ...)``; all features but those named
            in ``own_only_features``) and this rank's own keys (``(B, ...)``,
            aligned with its queries; all features), both unshuffled.
        """
        self.target_net.update_parameters(nn.Sequential(self.backbone, self.neck))
        shuffle = get_world_size() > 1 or self._split_bn  # else one process, whole-batch BN
        if shuffle:
            group = self._shuffle_process_group()
            view, idx_unshuffle = shuffle_rows(view, group)
        keys = self._features(*self.target_net.module, view)
        own_only = {name: keys.pop(name) for name in self.own_only_features}
        if not shuffle:
            gathered = gather_rows(**keys)  # this rank's keys, detached
            return gathered, {**gathered, **own_only}
        if group is not None:
            # Within the group, each rank's keys return to it; then one all-gather of the
            # queue keys, in rank order.
            own = unshuffle_own_rows(idx_unshuffle, group, **keys, **own_only)
            return gather_rows(**{name: own[name] for name in keys}), own
        # One all-gather serves both the queues (the whole batch, in rank order) and
        # this rank's own keys (its rows of the unshuffled batch), as MoCo's two do.
        gathered = {name: k[idx_unshuffle] for name, k in gather_rows(**keys).items()}
        batch = view.shape[0]
        mine = slice(get_rank() * batch, (get_rank() + 1) * batch)
        own = {name: k[mine] for name, k in gathered.items()}
        if own_only:  # back to their owners only, never gathered
            own.update(unshuffle_own_rows(idx_unshuffle, **own_only))
        return gathered, own

    def _shuffle_process_group(self) -> Optional[torch_dist.ProcessGroup]:
        """The process group of ``shuffle_group_size`` ranks this rank shuffles in; None: all.

        Created at the first shuffled step, by every rank at once (a collective call)."""
        size, world = self.shuffle_group_size, get_world_size()
        if size is None or world == 1 or size == world:
            return None
        if self._shuffle_group is None:
            if world % size:
                raise ValueError(
                    f'MLS: `shuffle_group_size` ({size}) must divide the world size ({world}); '
                    'set it to the GPUs per node, or None to shuffle across all ranks'
                )
            self._shuffle_group, _ = torch_dist.new_subgroups(group_size=size)
        return self._shuffle_group

    def _health_due(self) -> bool:
        """Whether this iteration logs the projection's health (``log_health``)."""
        if isinstance(self.log_health, bool):
            return self.log_health
        step = MessageHub.get_current_instance().get_info('iter', 0)
        return (step + 1) % self.log_health == 0

    def _two_views(self, inputs: List[torch.Tensor]) -> List[torch.Tensor]:
        """The query and key views, refused unless two."""
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(
                f'{type(self).__name__} expects two views per image (pipeline `MultiView`, '
                'num_views=2)'
            )
        return list(inputs)

    def _check_dims(self, g: torch.Tensor, z: torch.Tensor) -> None:
        for name, feat, source in (('g', g, 'backbone output'), ('z', z, 'neck out_channels')):
            dim = self.memory.dims[name]
            if feat.shape[1] != dim:
                raise ValueError(
                    f'MLS: `memory.banks.{name}` is {dim} but the {source} has {feat.shape[1]} '
                    'channels; make the backbone, the neck and the queue agree'
                )

    def loss(
        self, inputs: List[torch.Tensor], data_samples: List[DataSample], **kwargs
    ) -> Dict[str, torch.Tensor]:
        """Compute ``loss_nce`` and ``loss_ml`` for two views of a batch.

        Args:
            inputs (list[Tensor]): The two views, each ``(B, C, H, W)``.
            data_samples (list[DataSample]): Unused; kept for the interface.

        Returns:
            dict[str, Tensor]: The weighted losses, to be summed, and the
            projection's health scalars (names without ``loss``, logged only).
        """
        inputs = self._two_views(inputs)
        g1, z1 = self._encode(self.backbone, self.neck, inputs[0])
        self._check_dims(g1, z1)
        keys, own = self._momentum_keys(inputs[1])
        # Labels and logits are read before this step's keys are written
        # (MoCo order), so slot i is the same image in both banks. The memory's
        # products survive the enqueue in backward, so the banks are not copied.
        losses = self.head.loss(z1, own['z'], g1, self.memory)
        if self._health_due():
            losses.update(projection_health(z1.detach(), *self.memory.moments('z')))
        self.memory.enqueue_gathered(g=keys['g'], z=keys['z'])
        return losses
