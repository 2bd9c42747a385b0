"""Blocked-move memory: the agent stops imagining moves the episode showed it cannot make.

A planner trusts its model; where the model is wrong about a place (TwoRoom: a wall it imagines
open), the agent pushes, does not move, and plans the same push again. Test-time adaptation
(``adapt.py``) fits the predictor's weights to the episode's rows; from pixels it unlearns more
than it fixes (docs/benchmarks.md, "Learning from the episode"). This memory is local instead:
it keeps every real step on which the model predicted a move and the latent stood (nearly) still,
and in imagination scales down each predicted move by how much a move like it failed near the
same place. Far from the remembered places, or in other directions, imagination is unchanged.

For a remembered step i (latent z_i, predicted increment p_i, real increment r_i, moved share
m_i = min(1, |r_i| / |p_i|)) and an imagined step from z with increment d::

    near_i   = exp(-|z - z_i|^2 / (2 (radius * s)^2))      s: the latent move of a unit action
    along_i  = clamp(2 cos(d, p_i), 0, 1)                  a move in the failed direction
    blocked  = max_i near_i * along_i * (1 - m_i)
    d'       = (1 - blocked) * d

A move within 60 degrees of a remembered failed one (cos >= 0.5) is blocked in full near that
place: TwoRoom's physics stops a whole step at its first contact (no sliding along the wall).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from forethought.core.errors import ForethoughtError
from forethought.models.base import Belief, Rollout, WorldModel
from forethought.models.obs_mlp import GatedMLPWorldModel
from forethought.planning.adapt import require_gated_mlp


@dataclass(frozen=True)
class MemoryConfig:
    """Which real steps the agent remembers as blocked, and how far the memory reaches.

    Attributes:
        radius: the memory's reach around a remembered latent, in units of s, the latent
            distance one unit action moves (the norm of the gated action map's rows; with an
            exact map one full TwoRoom push, 2.45 px; a pixel model's map can be inflated, 2x
            on one seed). 0: no memory.
        min_move: remember a step only when the model predicted a move of at least this many
            s. At 0.5, three TwoRoom pixel agents that sat at the wall near a door's edge for
            180-198 steps remembered nothing: the model predicted smaller moves there
            (docs/benchmarks.md, "Remembering where moves failed").
        moved: ... and the latent moved at most this share of the predicted distance, in any
            direction. (Measured along the prediction instead, with min_move 0.1, 22 of 200
            TwoRoom pixel agents reached the goal and left it, against 6 with this rule.)
        capacity: the most steps remembered per episode (the oldest are dropped).
        forget: a real step that moved more than ``moved`` of its predicted distance along the
            prediction shows the way open: each remembered failure keeps
            (1 - near_i * along_i) of its weight for it. Off: on three TwoRoom pixel models it
            planned 523 of 600 pairs against 527 without it (docs/benchmarks.md).
        quiet_cost: remember nothing while the episode's objective scores the belief before
            the step below this (in the objective's own units; a temporal goal cost counts
            about steps of the data's paths): near the goal a push that fails is not worth a
            detour. 0 (the default): remember everywhere; 20 planned 529 of 600 TwoRoom pixel
            pairs against 527 and as many agents still left the goal (docs/benchmarks.md).
    """

    radius: float = 1.0
    min_move: float = 0.1
    moved: float = 0.5
    capacity: int = 256
    forget: bool = False
    quiet_cost: float = 0.0

    def __post_init__(self) -> None:
        in_range = min(self.radius, self.quiet_cost) >= 0 and self.min_move > 0
        if not (in_range and 0 <= self.moved < 1):
            raise ForethoughtError(
                f"MemoryConfig: radius and quiet_cost must be >= 0, min_move > 0 and moved in "
                f"[0, 1), got {self.radius}, {self.quiet_cost}, {self.min_move}, {self.moved}"
            )
        if self.capacity < 1:
            raise ForethoughtError(f"MemoryConfig: capacity must be >= 1, got {self.capacity}")


def unit_move(
    model: GatedMLPWorldModel, what: str = "the blocked-move memory (--memory-radius)"
) -> float:
    """s: the mean latent distance one unit of one action dim moves under the gated action map
    (``what`` needs it: named in the error for a model without one)."""
    gated = model.dynamics.gated
    if gated is None:
        raise ForethoughtError(
            f"{what} needs a model with the gated action path (obs-mlp or keypoint-mlp with "
            "gated_action=true)"
        )
    return float(gated.weight.detach().norm(dim=-1).mean())  # weight: (M, A, D)


def nearness(z: Tensor, places: Tensor, sigma: float) -> Tensor:
    """exp(-|z - place|^2 / (2 sigma^2)) of every place: (..., N) from (..., D) z, (N, D) places."""
    dist2 = (z[..., None, :] - places).square().sum(-1)  # (..., N)
    return torch.exp(-dist2 / (2 * sigma**2))


class BlockedMoves:
    """The episode's blocked steps, and imagination with them taken into account
    (:meth:`imagine_with`; planners see it through :class:`RememberingModel`).

    """

    def __init__(self, base: WorldModel, config: MemoryConfig) -> None:
        gated = require_gated_mlp(
            base, "the blocked-move memory (--memory-radius)", "whose predictor steps one latent "
            "at a time"
        )  # fmt: skip
        self.config, self.scale = config, unit_move(gated)
        self._z = torch.zeros(0, gated.latent_dim, device=gated.device)  # (N, D)
        self._dir = torch.zeros_like(self._z)  # (N, D) unit predicted increments
        self._failed = torch.zeros(0, device=gated.device)  # (N,) 1 - moved share

    def __len__(self) -> int:
        """Steps held (the latest ``capacity`` remembered in this episode)."""
        return int(self._z.shape[0])

    def reset(self) -> None:
        """A new episode: forget every remembered step."""
        self._z, self._dir, self._failed = self._z[:0], self._dir[:0], self._failed[:0]

    @torch.no_grad()
    def record(self, before: Belief, action: Tensor, after: Tensor, model: WorldModel) -> bool:
        """One real step: the (1, ...) belief before it, the (1, ...) raw action taken and the
        (1, D) latent observed after it; ``model`` is the one that planned it. Returns whether
        the step was remembered as blocked. A zero action pushes nowhere: never remembered
        (a model's drift while the agent stands still is not a blocked move)."""
        if not bool(action.any()):
            return False
        pred = model.imagine(before, action[:, None]).latents[:, 0]  # (1, D) members' mean
        p, r = pred - before.z, after - before.z  # (1, D) predicted and real increments
        p_norm2 = p.square().sum()
        if float(p_norm2.sqrt()) < self.config.min_move * self.scale:
            return False
        moved = min(1.0, float(r.norm() / p_norm2.sqrt()))  # stood still: 0
        if moved > self.config.moved:
            forget = self.config.forget and len(self) > 0
            # ... and more than that share along the prediction: the way is open
            if forget and float((r * p).sum() / p_norm2) > self.config.moved:
                self._failed = self._failed * (1 - self._reach(before.z, p)[0])
            return False
        cap, failed = self.config.capacity, torch.tensor([1.0 - moved], device=after.device)
        self._z = torch.cat([self._z, before.z])[-cap:]
        self._dir = torch.cat([self._dir, p / p_norm2.sqrt()])[-cap:]
        self._failed = torch.cat([self._failed, failed])[-cap:]
        return True

    def _reach(self, z: Tensor, d: Tensor) -> Tensor:
        """near_i * along_i of every remembered step: (..., N) from (..., D) z and d."""
        near = nearness(z, self._z, self.config.radius * self.scale)
        cos = (d @ self._dir.T) / d.norm(dim=-1, keepdim=True).clamp_min(1e-12)  # (..., N)
        return near * (2 * cos).clamp(0, 1)

    def blocked(self, z: Tensor, d: Tensor) -> Tensor:
        """The share of each imagined increment to take away. (..., ) from (..., D) z and d."""
        return (self._reach(z, d) * self._failed).amax(-1)

    def kept(self, z: Tensor, d: Tensor) -> Tensor:
        """Imagined increments (..., D) from latents z (..., D), the blocked share taken away."""
        return (1 - self.blocked(z, d))[..., None] * d

    def imagine_with(self, model: GatedMLPWorldModel, belief: Belief, actions: Tensor) -> Rollout:
        """``model.imagine`` with the remembered blocked moves taken away."""
        return model.imagine(belief, actions, step=self.kept if len(self) else None)


class RememberingModel:
    """A planner's view of ``model`` with the episode's blocked moves: ``imagine`` corrected,
    the rest the model's own (as :class:`~forethought.planning.hold.HeldActionModel`)."""

    def __init__(self, model: GatedMLPWorldModel, memory: BlockedMoves) -> None:
        self.model, self.memory = model, memory

    def imagine(self, belief: Belief, actions: Tensor) -> Rollout:
        return self.memory.imagine_with(self.model, belief, actions)

    def __getattr__(self, name: str) -> Any:  # encode_goal, latent_dim, ... of the real model
        return getattr(self.model, name)
