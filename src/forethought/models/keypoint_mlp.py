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
hinge on every coordinate (std at least ``var_target`` over the batch). Optionally
(``spread_weight``) a penalty on each keypoint map's spatial variance, which asks every map for
one sharp place rather than a centroid of many.

The model is a :class:`~forethought.training.latent_phase.LatentPhaseModel`: with
``--encoder-share`` the trainer freezes the encoder part-way (``freeze_encoder``) and trains the
predictor alone on cached keypoints (``latent_loss``), many times faster per transition.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from forethought.core.errors import ForethoughtError
from forethought.models import regularizers as reg
from forethought.models.base import Batch, Obs
from forethought.models.config import KeypointMLPConfig
from forethought.models.dynamics import inverse_dynamics_error
from forethought.models.encoders import KeypointImageEncoder
from forethought.models.obs_mlp import GatedMLPWorldModel, StandardizedObs
from forethought.models.spec import DataSpec
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
        self.out_dim = self.keypoint_dim + (self.vectors.out_dim if self.vectors is not None else 0)

    def forward(self, obs: Obs) -> Tensor:
        return self.encode(obs, spread=False)[0]

    def encode(self, obs: Obs, spread: bool = True) -> tuple[Tensor, Tensor | None]:
        """The (B, D) latent and, with ``spread``, the spatial variance of every keypoint's
        softmax map, (B, K x image keys)
        (:meth:`~forethought.models.encoders.SpatialSoftmax.locate_with_spread`); else None."""
        parts, spreads = [], []
        for key, net in zip(self.image_keys, self.images, strict=True):
            if key not in obs:
                raise ForethoughtError(
                    f"observation key '{key}' missing from the input; it has {sorted(obs)}"
                )
            if spread:
                keypoints, s = net.locate(obs[key])  # (B, 2K), (B, K)
                spreads.append(s)
            else:
                keypoints = net(obs[key])  # (B, 2K)
            parts.append(KEYPOINT_SCALE * keypoints)
        if self.vectors is not None:
            parts.append(self.vectors(obs))  # (B, D_vec)
        return torch.cat(parts, -1), torch.cat(spreads, -1) if spread else None


class KeypointMLPWorldModel(GatedMLPWorldModel):
    """Learned keypoints as the latent + M gated MLP predictors; a ``WorldModel``."""

    config: KeypointMLPConfig

    def __init__(self, config: KeypointMLPConfig, spec: DataSpec, name: str = "keypoint-mlp"):
        super().__init__(name, config, spec, KeypointLatent(config, spec, name))
        self.idm = nn.Linear(self.latent_dim, self.action_in, bias=False)
        # imagined keypoints stay on the image, as encoded ones do (soft-argmax in [-1, 1]);
        # without it a predictor fed an unusual frame (heavy pixel noise) can diverge
        k = self.encoder.keypoint_dim
        self.latent_bound = torch.cat(
            [torch.full((k,), KEYPOINT_SCALE), torch.full((self.latent_dim - k,), math.inf)]
        )
        self.register_buffer("loss_calls", torch.zeros((), dtype=torch.long))

    # ------------------------------------------------------------------ training

    def loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        """Gated one-step and open-loop errors + inverse dynamics + variance hinge."""
        cfg = self.config
        b, t = batch.is_first.shape
        masks = window_masks(self.name, batch.is_first, cfg.context)
        keep = masks.keep  # (B, T)
        z, spread = self.encoder.encode(
            flatten_time(batch.obs, self.encoder.keys), spread=cfg.spread_weight > 0
        )
        z = z.reshape(b, t, -1)  # (B, T, D)
        a = self.encode_action(batch.action, lead=2)  # (B, T, A_in)
        if self.training:
            calls = int(self.loss_calls)
            if calls < cfg.refit_until and calls % cfg.refit_every == 0:
                self.dynamics.action_map_fitted.fill_(False)  # refit on this batch
            self.loss_calls += 1
        target = z.detach() if cfg.stop_grad_target else z
        errors = self.dynamics.prediction_losses(z, a, masks, cfg.context, target)
        idm = self._idm_loss(z, batch.action, a, keep)
        kp = z[..., : self.encoder.keypoint_dim]
        var = reg.vicreg_variance(kp / cfg.var_target)  # hinge at std = var_target
        total = (
            cfg.one_step_weight * errors.one_step
            + cfg.open_loop_weight * errors.open_loop
            + cfg.residual_weight * errors.residual
            + cfg.idm_weight * idm
            + cfg.var_weight * var
        )
        terms = {
            "pred_one_step": errors.one_step.detach(),
            "pred_open_loop": errors.open_loop.detach(),
            "head_residual": errors.residual.detach(),
            "idm": idm.detach(),
            "var": var.detach(),
        }
        if spread is not None:  # every row is a real frame, as for the variance hinge
            total = total + cfg.spread_weight * spread.mean()
            terms["spread"] = spread.mean().detach()
        return total, terms | {"loss": total.detach()}

    # ------------------------------------------------------------------ frozen-encoder phase

    def freeze_encoder(self) -> None:
        """Train only the predictor from now on (the IDM head only served the encoder); its
        action map is refit once, on the first batch of the frozen latents."""
        self.encoder.requires_grad_(False)
        self.idm.requires_grad_(False)
        self.dynamics.action_map_fitted.fill_(False)

    def latent_loss(
        self, z: Tensor, action: Tensor, is_first: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """One-step + open-loop error on (B, T, D) cached latents (weight 1 each: the weights of
        ``loss`` only balance the prediction against the anti-collapse terms, gone here)."""
        return self.prediction_loss(z, action, is_first)

    def _idm_loss(self, z: Tensor, action: Tensor, a: Tensor, keep: Tensor) -> Tensor:
        """Read the action into each row from the latent's change (a linear map, no bias)."""
        pred = self.idm(z[:, 1:] - z[:, :-1])  # (B, T-1, A_in)
        err = inverse_dynamics_error(pred, action, a, self.spec.discrete)  # (B, T-1)
        return masked_mean(err, keep[:, 1:])
