"""Learned image keypoints as the latent, with obs-mlp's gated predictor (``keypoint-mlp``).

``obs-mlp`` plans well on TwoRoom because its latent is the state: a move is a fixed linear
response to the action, which a gate can close at a wall. A fused CNN latent has no such fixed
direction (the gate did not help the JEPA, ``docs/models.md``). Here the latent is the image's
keypoints themselves, not fused: each keypoint is the soft-argmax location of one learned feature
map, so an object's image position, and its move under an action, appear linearly in the latent.

Latent of one observation, (B, D) with D = 2K per image key plus the standardized vector keys::

    z = [KEYPOINT_SCALE * keypoints(image) for each image key, (vector - mean) / std]

Dynamics: :class:`~forethought.models.obs_mlp.GatedMLPDynamics`, with the same one-step memory
as ``obs-mlp`` (h_t = [z_{t-1}, a_t]). The gated action map is refit by least squares on the
batch every ``refit_every`` loss calls until ``refit_until`` (the encoder moves the latent early
in training, so one fit on the first batch would be stale).

Training (no decoder, nothing in pixel space): the gated predictor's one-step and open-loop
squared errors against the keypoints with their gradient stopped (``stop_grad_target``: the
error shapes the keypoints only as inputs, so it asks for what predicts a move, such as where
the door is, and cannot pull keypoints onto static features to make targets easy), plus two
anti-collapse terms that stop the keypoints settling on static features
(which are trivially predictable): a linear inverse-dynamics head that must read the action from
the latent's change (some keypoint has to follow what the actions move), and the VICReg variance
hinge on every coordinate (std at least ``var_target`` over the batch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from forethought.core.errors import ForethoughtError
from forethought.models import regularizers as reg
from forethought.models.base import Batch, Belief, Obs, Rollout
from forethought.models.config import KeypointMLPConfig
from forethought.models.encoders import KeypointImageEncoder
from forethought.models.obs_mlp import GatedMLPDynamics, StandardizedObs
from forethought.models.spec import (
    DataSpec,
    action_bounds,
    encode_action,
    register_action_bounds,
)
from forethought.models.windows import flatten_time, masked_mean, window_masks

KEYPOINT_SCALE = 2.0
"""Keypoints are in [-1, 1] across the image; doubled, an object that roams the whole image has a
coordinate std near 1, like a standardized observation."""


class KeypointLatent(nn.Module):
    """Observations -> (B, D): scaled keypoints of each image key, then standardized vectors."""

    def __init__(self, config: KeypointMLPConfig, spec: DataSpec, name: str) -> None:
        super().__init__()
        specs = spec.select(config.obs_keys, model=name)
        images = tuple(s for s in specs if s.is_image)
        if not images:
            raise ForethoughtError(
                f"{name} learns keypoints of images and the data has none among "
                f"{[s.key for s in specs]}; use model 'obs-mlp' for vector observations"
            )
        channels = (config.conv_channels,) * config.conv_layers + (config.keypoints,)
        self.image_keys = tuple(s.key for s in images)
        self.images = nn.ModuleList(
            [
                KeypointImageEncoder(s, channels, 1, config.keypoint_grid, config.conv_kernel)
                for s in images
            ]
        )
        vectors = tuple(s for s in specs if not s.is_image)
        self.vectors = StandardizedObs(vectors) if vectors else None
        self.keys = self.image_keys + (self.vectors.keys if self.vectors is not None else ())
        self.keypoint_dim = 2 * config.keypoints * len(images)
        self.out_dim = self.keypoint_dim + (self.vectors.out_dim if self.vectors else 0)

    def forward(self, obs: Obs) -> Tensor:
        parts = []
        for key, net in zip(self.image_keys, self.images, strict=True):
            if key not in obs:
                raise ForethoughtError(
                    f"observation key '{key}' missing from the input; it has {sorted(obs)}"
                )
            parts.append(KEYPOINT_SCALE * net(obs[key]))  # (B, 2K)
        if self.vectors is not None:
            parts.append(self.vectors(obs))  # (B, D_vec)
        return torch.cat(parts, -1)  # (B, D)


class KeypointMLPWorldModel(nn.Module):
    """Learned keypoints as the latent + M gated MLP predictors; a ``WorldModel``."""

    def __init__(self, config: KeypointMLPConfig, spec: DataSpec, name: str = "keypoint-mlp"):
        super().__init__()
        self.name, self.config, self.spec = name, config, spec
        self.encoder = KeypointLatent(config, spec, name)
        self.latent_dim = self.encoder.out_dim
        self.members = config.members
        self.action_in = spec.action_dim
        self.dynamics = GatedMLPDynamics(config, self.latent_dim, self.action_in)
        self.idm = nn.Linear(self.latent_dim, self.action_in, bias=False)
        self.register_buffer("loss_calls", torch.zeros((), dtype=torch.long))
        register_action_bounds(self, spec)

    @property
    def device(self) -> torch.device:
        return self.idm.weight.device

    def encode_action(self, action: Tensor, lead: int) -> Tensor:
        """One-hot (discrete) or [-1, 1]-scaled (Box) actions. (*L, A_in)."""
        return encode_action(self.spec, action, lead, action_bounds(self))

    # ------------------------------------------------------------------ the contract

    def initial(self, batch_size: int) -> Belief:
        """Zero memory ([z_prev, a_prev]) and a zero latent. (B, D + A_in), (B, D)."""
        d, dev = self.latent_dim, self.device
        return Belief(
            h=torch.zeros(batch_size, d + self.action_in, device=dev),
            z=torch.zeros(batch_size, d, device=dev),
        )

    def observe(self, belief: Belief, obs: Obs, prev_action: Tensor, is_first: Tensor) -> Belief:
        """The new latent, with the previous latent and ``prev_action`` as memory."""
        keep = (~is_first.bool()).float()[:, None]  # (B, 1)
        a = self.encode_action(prev_action, lead=1)  # (B, A_in)
        return Belief(h=torch.cat([belief.z, a], -1) * keep, z=self.encoder(obs))

    def imagine(self, belief: Belief, actions: Tensor) -> Rollout:
        """Open-loop latents for (B, H, A) actions; members' mean and (M > 1) their variance."""
        a = self.encode_action(actions, lead=2)  # (B, H, A_in)
        if belief.batch_size == 1 and a.shape[0] > 1:
            belief = belief.expand(a.shape[0])
        zs = self.dynamics.rollout(belief.z, belief.h, a)  # (M, B, H, D)
        if self.members == 1:
            return Rollout(latents=zs[0])
        return Rollout(latents=zs.mean(0), disagreement=zs.var(0, unbiased=False).mean(-1))

    def encode_goal(self, obs: Obs) -> Tensor:
        """The keypoint latent of an observation. (B, D)."""
        return self.encoder(obs)

    # ------------------------------------------------------------------ training

    def loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        """Gated one-step and open-loop errors + inverse dynamics + variance hinge."""
        cfg = self.config
        b, t = batch.is_first.shape
        masks = window_masks(self.name, batch.is_first, cfg.context)
        keep = masks.keep  # (B, T)
        z = self.encoder(flatten_time(batch.obs, self.encoder.keys)).reshape(b, t, -1)  # (B,T,D)
        a = self.encode_action(batch.action, lead=2)  # (B, T, A_in)
        if self.training:
            calls = int(self.loss_calls)
            if calls < cfg.refit_until and calls % cfg.refit_every == 0:
                self.dynamics.action_map_fitted.fill_(False)  # refit on this batch
            self.loss_calls += 1
        target = z.detach() if cfg.stop_grad_target else z
        loss_one, loss_ol = self.dynamics.prediction_losses(z, a, masks, cfg.context, target)
        idm = self._idm_loss(z, batch.action, a, keep)
        kp = z[..., : self.encoder.keypoint_dim]
        var = reg.vicreg_variance(kp / cfg.var_target)  # hinge at std = var_target
        total = (
            cfg.one_step_weight * loss_one
            + cfg.open_loop_weight * loss_ol
            + cfg.idm_weight * idm
            + cfg.var_weight * var
        )
        return total, {
            "pred_one_step": loss_one.detach(),
            "pred_open_loop": loss_ol.detach(),
            "idm": idm.detach(),
            "var": var.detach(),
            "loss": total.detach(),
        }

    def _idm_loss(self, z: Tensor, action: Tensor, a: Tensor, keep: Tensor) -> Tensor:
        """Read the action into each row from the latent's change (a linear map, no bias)."""
        pred = self.idm(z[:, 1:] - z[:, :-1])  # (B, T-1, A_in)
        if self.spec.discrete:
            err = F.cross_entropy(
                pred.reshape(-1, self.action_in), action[:, 1:].reshape(-1).long(), reduction="none"
            ).reshape(keep[:, 1:].shape)
        else:
            err = (pred - a[:, 1:]).square().mean(-1)  # (B, T-1)
        return masked_mean(err, keep[:, 1:])
