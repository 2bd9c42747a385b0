"""A JEPA-style latent predictive world model (registry names ``jepa`` and ``jepa-ensemble``).

Encoder: per-key networks fused to a latent z_t = enc(obs_t) (see ``encoders.py``).
Memory: h_t = GRU([z_{t-1}, a_t], h_{t-1}); the belief after obs_t is (h_t, z_t).
Prediction: z_{t+1}^pred = z_t + head(GRU([z_t, a_{t+1}], h_t)), fed back for open-loop rollouts.

Training on a window of T rows (no decoder, nothing in pixel space):

- one-step: teacher-forced predictions of z_t from the observed z_{t-1} and memory, t = 1..T-1;
- open-loop: observe the first K rows, then imagine the rest of the window from actions only;
- anti-collapse on the encoder's latents: SIGReg (one weight) or VICReg + inverse dynamics.

Targets are the online encoder's own latents with gradients stopped (``stop_grad_target``): one
encoder pass per step (an EMA target costs a second pass, which is the expensive part on CPU),
and the explicit anti-collapse term already does the job an EMA teacher is there for.
The first row of every window is treated as an episode start, so training sees exactly the reset
state that ``observe(..., is_first=True)`` produces when an agent starts an episode.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from forethought.models import regularizers as reg
from forethought.models.base import Batch, Belief, Obs, Rollout
from forethought.models.config import JEPAConfig
from forethought.models.dynamics import (
    InverseDynamics,
    LatentDynamics,
    inverse_dynamics_error,
)
from forethought.models.encoders import ObsEncoder
from forethought.models.spec import (
    DataSpec,
    action_bounds,
    encode_action,
    register_action_bounds,
)
from forethought.models.windows import WindowMasks, flatten_time, masked_mean, window_masks


class JEPAWorldModel(nn.Module):
    """Encoder + M recurrent latent predictors; implements :class:`~forethought.models.WorldModel`.

    Args:
        config: sizes and objective (see :class:`JEPAConfig`).
        spec: the data it is built for (observation keys, action space, normalization).
        name: the registry name, used in messages and checkpoints.
    """

    def __init__(self, config: JEPAConfig, spec: DataSpec, name: str = "jepa") -> None:
        super().__init__()
        self.name = name
        self.config = config
        self.spec = spec
        self.latent_dim = config.latent_dim
        self.members = config.members
        self.action_in = spec.action_dim  # one-hot width for discrete actions
        self.encoder = ObsEncoder(
            spec.select(config.obs_keys, model=name),
            config.latent_dim,
            config.encoder_width,
            config.cnn_channels,
            config.image_encoder,
            config.keypoint_grid,
            config.keypoint_kernel,
        )
        self.dynamics = LatentDynamics(
            config.members,
            config.latent_dim,
            self.action_in,
            config.hidden_dim,
            config.residual,
            config.direct_action,
        )
        self.idm = (
            InverseDynamics(config.latent_dim, config.encoder_width, self.action_in)
            if config.idm_weight
            else None
        )
        register_action_bounds(self, spec)

    # ------------------------------------------------------------------ helpers

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def encode_action(self, action: Tensor, lead: int) -> Tensor:
        """Actions as the predictor takes them: one-hot (discrete) or scaled to [-1, 1] (Box).

        Args:
            action: (*L, A) float, or (*L,) int64 indices / (*L, n) float one-hot for discrete.
            lead: number of leading dims L, to tell indices from one-hot vectors.
        """
        return encode_action(self.spec, action, lead, action_bounds(self))

    # ------------------------------------------------------------------ the contract

    def initial(self, batch_size: int) -> Belief:
        """Zero memory and a zero latent. (B, M * D_h), (B, D)."""
        dev = self.device
        return Belief(
            h=torch.zeros(batch_size, self.members * self.config.hidden_dim, device=dev),
            z=torch.zeros(batch_size, self.latent_dim, device=dev),
        )

    def observe(self, belief: Belief, obs: Obs, prev_action: Tensor, is_first: Tensor) -> Belief:
        """Fold one observation into the belief (rows with ``is_first`` start from scratch)."""
        keep = (~is_first.bool()).float()[:, None]  # (B, 1)
        a = self.encode_action(prev_action, lead=1) * keep  # (B, A_in)
        h = self.dynamics.split(belief.h) * keep  # (M, B, D_h)
        h, _ = self.dynamics.step(belief.z * keep, a, h)
        return Belief(h=self.dynamics.join(h), z=self.encoder(obs))

    def imagine(self, belief: Belief, actions: Tensor) -> Rollout:
        """Open-loop latents for (B, H, A) actions; members' mean and (M > 1) their variance."""
        a = self.encode_action(actions, lead=2)  # (B, H, A_in)
        if belief.batch_size == 1 and a.shape[0] > 1:
            belief = belief.expand(a.shape[0])
        h, z = self.dynamics.split(belief.h), belief.z
        preds = []
        for k in range(a.shape[1]):
            h, z = self.dynamics.step(z, a[:, k], h)  # (M, B, D_h), (M, B, D)
            preds.append(z)
        zs = torch.stack(preds, dim=2)  # (M, B, H, D)
        if self.members == 1:
            return Rollout(latents=zs[0])
        return Rollout(latents=zs.mean(0), disagreement=zs.var(0, unbiased=False).mean(-1))

    def encode_goal(self, obs: Obs) -> Tensor:
        """The latent of an observation. (B, D)."""
        return self.encoder(obs)

    def encode_sequence(self, obs: Obs, update_stats: bool = False) -> Tensor:
        """Latents of (B, T, ...) observations. (B, T, D)."""
        b, t = next(iter(obs.values())).shape[:2]
        return self.encoder(flatten_time(obs, self.encoder.keys), update_stats).reshape(b, t, -1)

    # ------------------------------------------------------------------ training

    def loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        """Prediction errors (one-step and open-loop) plus the anti-collapse term."""
        cfg = self.config
        masks = window_masks(self.name, batch.is_first, cfg.context)
        keep = masks.keep  # (B, T)
        z = self.encode_sequence(batch.obs, update_stats=self.training)  # (B, T, D)
        target = z.detach() if cfg.stop_grad_target else z
        a = self.encode_action(batch.action, lead=2)  # (B, T, A_in)
        total, terms = self._prediction_losses(z, a, masks, target)
        if cfg.regularizer == "sigreg":
            terms["sigreg"] = reg.sigreg(z, cfg.sigreg_slices, cfg.sigreg_knots)
            total = total + cfg.sigreg_weight * terms["sigreg"]
            if cfg.sigreg_time_weight:
                terms["time"] = reg.temporal_smoothness(z, keep)
                total = total + cfg.sigreg_time_weight * terms["time"]
        else:
            terms["vic_var"] = reg.vicreg_variance(z)
            terms["vic_cov"] = reg.vicreg_covariance(z)
            terms["vic_time"] = reg.temporal_smoothness(z, keep)
            total = (
                total
                + cfg.vic_var_weight * terms["vic_var"]
                + cfg.vic_cov_weight * terms["vic_cov"]
                + cfg.vic_time_weight * terms["vic_time"]
            )
        if self.idm is not None:
            terms["idm"] = self._idm_loss(z, batch.action, a, keep)
            total = total + cfg.idm_weight * terms["idm"]
        out = {name: v.detach() for name, v in terms.items()}
        out["latent_std"] = z.detach().reshape(-1, z.shape[-1]).std(0).mean()
        out["loss"] = total.detach()
        return total, out

    def _prediction_losses(
        self, z: Tensor, a: Tensor, masks: WindowMasks, target: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """The config-weighted sum of the mean squared one-step (teacher-forced) and open-loop
        errors of a (B, T, D) window, and the two errors as terms."""
        cfg = self.config
        b, t = z.shape[:2]
        k, keep = cfg.context, masks.keep  # keep: (B, T)
        # Teacher forcing: the filter of `observe`, keeping each step's prior prediction.
        h = torch.zeros(self.members, b, cfg.hidden_dim, device=z.device)  # (M, B, D_h)
        z_prev = torch.zeros_like(z[:, 0])
        one_step, h_context = [], h
        for i in range(t):
            m = keep[:, i, None]
            h, pred = self.dynamics.step(z_prev * m, a[:, i] * m, h * m)
            if i > 0:
                one_step.append(pred)  # (M, B, D): prediction of z_i
            if i == k - 1:
                h_context = h
            z_prev = z[:, i]
        err1 = (torch.stack(one_step, 2) - target[None, :, 1:]).square().mean(-1)  # (M, B, T-1)
        loss_one = masked_mean(err1, keep[None, :, 1:])

        # Open loop from the belief after the first K rows.
        h, zin, open_loop = h_context, z[:, k - 1], []
        for i in range(k, t):
            h, zin = self.dynamics.step(zin, a[:, i], h)
            open_loop.append(zin)
        err_ol = (torch.stack(open_loop, 2) - target[None, :, k:]).square().mean(-1)  # (M,B,T-K)
        loss_ol = masked_mean(err_ol, masks.open_loop[None])
        total = cfg.one_step_weight * loss_one + cfg.open_loop_weight * loss_ol
        return total, {"pred_one_step": loss_one, "pred_open_loop": loss_ol}

    # ------------------------------------------------------------------ frozen-encoder phase

    def freeze_encoder(self) -> None:
        """Train only the predictor from now on (the IDM head only served the encoder)."""
        self.encoder.requires_grad_(False)
        if self.idm is not None:
            self.idm.requires_grad_(False)

    def latent_loss(
        self, z: Tensor, action: Tensor, is_first: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """The weighted one-step + open-loop error on (B, T, D) cached latents."""
        masks = window_masks(self.name, is_first, self.config.context)
        a = self.encode_action(action, lead=2)  # (B, T, A_in)
        total, terms = self._prediction_losses(z, a, masks, z)
        return total, {**{k: v.detach() for k, v in terms.items()}, "loss": total.detach()}

    def _idm_loss(self, z: Tensor, action: Tensor, a: Tensor, keep: Tensor) -> Tensor:
        """Predict the action between consecutive latents (rows after an episode start only)."""
        pred = self.idm(z[:, :-1], z[:, 1:])  # (B, T-1, A_in)
        err = inverse_dynamics_error(pred, action, a, self.spec.discrete)  # (B, T-1)
        return masked_mean(err, keep[:, 1:])
