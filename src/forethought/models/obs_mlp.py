"""An observation-space dynamics model for vector observations (registry name ``obs-mlp``).

The latent is the observation itself, standardized by the dataset's mean and std: z_t =
(obs_t - mean) / std over the model's vector keys, concatenated. No encoder is learned, so
nothing can collapse and no anti-collapse term is needed. This is the PETS / mbrl-lib kind of
model (deterministic members here), for data whose observation already is a state.

The predictor is :class:`~forethought.models.gated_mlp.GatedMLPDynamics` (M gated MLP members
with a one-step memory): its gated path moves the latent by a linear map of the action, scaled
by a gate in [0, 1] that the state can close. A wall then stops a push exactly (gate 0) instead
of through an MLP output that must cancel the action, which leaks a little every step and walks
through the wall within tens of imagined steps (measured on TwoRoom: ``docs/models.md``).

Training: teacher-forced one-step errors plus an open-loop rollout from the first ``context``
rows over the rest of the window, both as squared errors of standardized observations.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from forethought.core.errors import ForethoughtError
from forethought.models.base import Batch, Belief, Obs, Rollout
from forethought.models.config import ObsMLPConfig
from forethought.models.gated_mlp import GatedMLPDynamics, GatedMLPSizes, StepFilter
from forethought.models.spec import (
    DataSpec,
    ObsSpec,
    action_bounds,
    encode_action,
    register_action_bounds,
)
from forethought.models.windows import flatten_time, window_masks


class StandardizedObs(nn.Module):
    """A dict of vector observations -> (B, D) standardized and concatenated (no parameters)."""

    def __init__(self, specs: tuple[ObsSpec, ...]) -> None:
        super().__init__()
        self.keys = tuple(s.key for s in specs)
        mean = [m for s in specs for m in (s.mean or [0.0] * s.size)]
        std = [max(v, 1e-6) for s in specs for v in (s.std or [1.0] * s.size)]
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))
        self.out_dim = len(mean)

    def forward(self, obs: Obs) -> Tensor:
        parts = []
        for k in self.keys:
            if k not in obs:
                raise ForethoughtError(
                    f"observation key '{k}' missing from the input; it has {sorted(obs)}"
                )
            x = obs[k]
            parts.append(x.reshape(x.shape[0], -1).float())  # (B, size)
        return (torch.cat(parts, -1) - self.mean) / self.std  # (B, D)


class GatedMLPWorldModel(nn.Module):
    """The ``WorldModel`` contract for a latent z = encoder(obs) and M gated MLP predictors with
    a one-step memory h = [z_prev, a_prev] (``obs-mlp``, ``keypoint-mlp``). Subclasses build the
    encoder and write ``loss``."""

    def __init__(
        self, name: str, config: GatedMLPSizes, spec: DataSpec, encoder: nn.Module
    ) -> None:
        super().__init__()
        self.name, self.config, self.spec = name, config, spec
        self.encoder = encoder
        self.latent_dim = int(encoder.out_dim)
        self.members = config.members
        self.action_in = spec.action_dim
        self.dynamics = GatedMLPDynamics(config, self.latent_dim, self.action_in)
        register_action_bounds(self, spec)
        # (D,) the encoder's range per latent dim, which imagination is clamped to (None: none);
        # not saved: a model's class sets it
        self.latent_bound: Tensor | None
        self.register_buffer("latent_bound", None, persistent=False)

    @property
    def device(self) -> torch.device:
        return self.dynamics.action_map_fitted.device

    def encode_action(self, action: Tensor, lead: int) -> Tensor:
        """One-hot (discrete) or [-1, 1]-scaled (Box) actions. (*L, A_in)."""
        return encode_action(self.spec, action, lead, action_bounds(self))

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

    def imagine(self, belief: Belief, actions: Tensor, step: StepFilter | None = None) -> Rollout:
        """Open-loop latents for (B, H, A) actions; members' mean and (M > 1) their variance.
        ``step``: a filter on every imagined increment (:meth:`GatedMLPDynamics.rollout`);
        every imagined latent stays within ``latent_bound`` where the model has one."""
        a = self.encode_action(actions, lead=2)  # (B, H, A_in)
        if belief.batch_size == 1 and a.shape[0] > 1:
            belief = belief.expand(a.shape[0])
        zs = self.dynamics.rollout(belief.z, belief.h, a, step, self.latent_bound)  # (M, B, H, D)
        if self.members == 1:
            return Rollout(latents=zs[0])
        return Rollout(latents=zs.mean(0), disagreement=zs.var(0, unbiased=False).mean(-1))

    def encode_goal(self, obs: Obs) -> Tensor:
        """The latent of an observation. (B, D)."""
        return self.encoder(obs)

    def prediction_loss(
        self,
        z: Tensor,
        action: Tensor,
        is_first: Tensor,
        one_step_weight: float = 1.0,
        open_loop_weight: float = 1.0,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Weighted one-step + open-loop error of (B, T, D) latents under (B, T, ...) actions."""
        context = self.config.context
        masks = window_masks(self.name, is_first, context)
        a = self.encode_action(action, lead=2)  # (B, T, A_in)
        errors = self.dynamics.prediction_losses(z, a, masks, context)
        total = (
            one_step_weight * errors.one_step
            + open_loop_weight * errors.open_loop
            + self.config.residual_weight * errors.residual
        )
        return total, {
            "pred_one_step": errors.one_step.detach(),
            "pred_open_loop": errors.open_loop.detach(),
            "head_residual": errors.residual.detach(),
            "loss": total.detach(),
        }


class ObsMLPWorldModel(GatedMLPWorldModel):
    """Standardized vector observations as the latent + M MLP predictors; a ``WorldModel``."""

    config: ObsMLPConfig

    def __init__(self, config: ObsMLPConfig, spec: DataSpec, name: str = "obs-mlp") -> None:
        specs = spec.select(config.obs_keys, model=name)
        images = [s.key for s in specs if s.is_image]
        if config.obs_keys is None:
            specs = tuple(s for s in specs if not s.is_image)
        if images and config.obs_keys is not None:
            raise ForethoughtError(
                f"{name} reads vector observations only, but {images} are images; pass "
                "--obs-keys with vector keys, or use model 'jepa' for images"
            )
        if not specs:
            raise ForethoughtError(
                f"{name} reads vector observations only and the data has none; "
                "use model 'jepa' for images"
            )
        super().__init__(name, config, spec, StandardizedObs(specs))

    # ------------------------------------------------------------------ training

    def loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        """Squared errors of standardized observations: one-step and open-loop."""
        cfg = self.config
        b, t = batch.is_first.shape
        z = self.encoder(flatten_time(batch.obs, self.encoder.keys)).reshape(b, t, -1)  # (B,T,D)
        return self.prediction_loss(
            z, batch.action, batch.is_first, cfg.one_step_weight, cfg.open_loop_weight
        )
