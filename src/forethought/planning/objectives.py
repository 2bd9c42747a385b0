"""Objectives: costs of imagined rollouts, (N,) for N candidates, lower is better.

- :class:`GoalObjective`: distance of the latents (or of a readout of them, e.g. a state probe)
  to a goal (every step, or the last).
- :class:`RewardObjective`: minus the (discounted) sum of rewards a head predicts from latents.
- :class:`CallableObjective`: any function of the rollout.
- :class:`UncertaintyPenalty`: another objective plus a weight times the models' disagreement.
- :class:`Deadline`: another objective on the steps before a deadline only (an episode's end).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from forethought.core.errors import ForethoughtError
from forethought.models.base import Rollout
from forethought.planning.base import Objective


def _check_cost(cost: Tensor, n: int, who: str) -> Tensor:
    if tuple(cost.shape) != (n,):
        raise ForethoughtError(f"{who} must give ({n},) costs, got {tuple(cost.shape)}")
    return cost


@dataclass(frozen=True)
class GoalObjective:
    """Distance between imagined latents and a goal latent, or between a readout of them and a
    goal in the readout's space.

    Args:
        goal: (G,) or (1, G) goal: a latent, e.g. ``model.encode_goal(goal_obs)[0]`` (G = D),
            or, with ``readout``, a point in its space (e.g. a goal position for a state probe).
        mode: ``"sum"`` over the horizon (reach it soon and stay) or ``"last"`` step only.
        distance: ``"squared"`` (sum of weighted squared differences) or ``"l2"`` (its root).
        weights: (G,) non-negative per-dimension weights, or None for all ones.
        mean_weight: adds this times the mean distance over the horizon. With ``mode="last"``
            a small value (0.1) keeps the long-horizon view (no local minimum from the path's
            early steps) while preferring plans that arrive sooner and stay at the goal.
        readout: maps latents (..., D) to the space the goal lives in, (..., G); e.g. a state
            probe from :func:`forethought.eval.fit_state_probe`, so the cost is a distance in
            the world's units instead of in latent space. None: the latents themselves.
        stride: read the distance at every ``stride``-th imagined step only, ending at the last
            (the sum and the mean run over those steps). With actions held ``stride`` steps
            (``HeldActionPlanner``) the skipped steps lie between decisions, and a costly readout
            (a temporal-distance head) runs ``stride`` times less often.
    """

    goal: Tensor
    mode: str = "sum"
    distance: str = "squared"
    weights: Tensor | None = None
    mean_weight: float = 0.0
    readout: Callable[[Tensor], Tensor] | None = None
    stride: int = 1

    def __post_init__(self) -> None:
        if self.stride < 1:
            raise ForethoughtError(f"GoalObjective stride must be >= 1, got {self.stride}")
        if self.mean_weight < 0:
            raise ForethoughtError(
                f"GoalObjective mean_weight must be >= 0, got {self.mean_weight}"
            )
        if self.mode not in ("sum", "last"):
            raise ForethoughtError(f"GoalObjective mode must be 'sum' or 'last', got {self.mode!r}")
        if self.distance not in ("squared", "l2"):
            raise ForethoughtError(
                f"GoalObjective distance must be 'squared' or 'l2', got {self.distance!r}"
            )
        if self.goal.dim() == 2 and self.goal.shape[0] == 1:
            object.__setattr__(self, "goal", self.goal[0])
        if self.goal.dim() != 1:
            raise ForethoughtError(
                f"GoalObjective goal must be (D,) or (1, D), got {tuple(self.goal.shape)}"
            )
        if self.weights is not None and tuple(self.weights.shape) != tuple(self.goal.shape):
            raise ForethoughtError(
                f"GoalObjective weights must be ({self.goal.shape[0]},) like the goal, "
                f"got {tuple(self.weights.shape)}"
            )

    def distances(self, latents: Tensor) -> Tensor:
        """Per-step distances. latents (N, H, D) -> (N, H)."""
        points = latents if self.readout is None else self.readout(latents)  # (N, H, G)
        if points.shape[:-1] != latents.shape[:-1] or points.shape[-1] != self.goal.shape[0]:
            raise ForethoughtError(
                f"GoalObjective: goal has G={self.goal.shape[0]} dims but "
                + (
                    f"the model's latents have D={latents.shape[-1]} (encode the goal with the "
                    "same model)"
                    if self.readout is None
                    else f"the readout maps latents {tuple(latents.shape)} to "
                    f"{tuple(points.shape)} (give the goal in the readout's space)"
                )
            )
        goal = self.goal.to(points.device, points.dtype)
        sq = (points - goal).square()  # (N, H, G)
        if self.weights is not None:
            sq = sq * self.weights.to(points.device, points.dtype)
        d = sq.sum(-1)  # (N, H)
        return d if self.distance == "squared" else d.clamp_min(1e-12).sqrt()

    def cost(self, rollout: Rollout) -> Tensor:
        latents = rollout.latents  # (N, H, D)
        if self.stride > 1:
            latents = latents[:, (latents.shape[1] - 1) % self.stride :: self.stride]  # ends at H-1
        d = self.distances(latents)  # (N, H')
        cost = d.sum(1) if self.mode == "sum" else d[:, -1]
        return cost + self.mean_weight * d.mean(1) if self.mean_weight else cost


@dataclass(frozen=True)
class RewardObjective:
    """Minus the discounted sum of predicted rewards.

    Args:
        reward_head: maps latents (N, H, D) to rewards (N, H) (or (N, H, 1)).
        discount: per-step discount in (0, 1].
    """

    reward_head: Callable[[Tensor], Tensor]
    discount: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 < self.discount <= 1.0:
            raise ForethoughtError(
                f"RewardObjective discount must be in (0, 1], got {self.discount}"
            )

    def cost(self, rollout: Rollout) -> Tensor:
        n, h = rollout.latents.shape[:2]
        r = self.reward_head(rollout.latents)
        if r.dim() == 3 and r.shape[-1] == 1:
            r = r[..., 0]
        if tuple(r.shape) != (n, h):
            raise ForethoughtError(
                f"RewardObjective: reward_head must map latents (N, H, D) to ({n}, {h}) rewards, "
                f"got {tuple(r.shape)}"
            )
        gamma = self.discount ** torch.arange(h, device=r.device, dtype=r.dtype)  # (H,)
        return -(r * gamma).sum(1)


@dataclass(frozen=True)
class CallableObjective:
    """Any function of the rollout that returns (N,) costs.

    Args:
        fn: rollout -> (N,) costs, lower is better.
        name: shown in error messages.
    """

    fn: Callable[[Rollout], Tensor]
    name: str = "CallableObjective"

    def cost(self, rollout: Rollout) -> Tensor:
        return _check_cost(self.fn(rollout), rollout.latents.shape[0], self.name)


@dataclass(frozen=True)
class UncertaintyPenalty:
    """``base`` cost plus ``weight`` times the disagreement summed over the horizon.

    Positive weights avoid futures the model is unsure of; negative ones seek them (exploration).
    Needs a model that reports ``Rollout.disagreement`` (an ensemble, e.g. ``jepa-ensemble``).
    """

    base: Objective
    weight: float = 1.0

    def cost(self, rollout: Rollout) -> Tensor:
        if rollout.disagreement is None:
            raise ForethoughtError(
                "UncertaintyPenalty needs a model that reports disagreement (an ensemble such as "
                "jepa-ensemble with members > 1); this model's rollouts have none"
            )
        n = rollout.latents.shape[0]
        base = _check_cost(self.base.cost(rollout), n, type(self.base).__name__)
        return base + self.weight * rollout.disagreement.sum(1)


@dataclass(frozen=True)
class Deadline:
    """``base`` cost of the first ``steps`` imagined steps only: the steps left in an episode.

    A task scored at a fixed time (TwoRoom: the distance after step 200) ends there; steps
    past it are not part of the task. With a last-step goal cost this makes the plan's last
    step the episode's last step once the horizon reaches past it, so a plan cannot leave the
    goal while promising to be back after the episode ends. :class:`MPCAgent` applies it when
    given a ``step_budget``.
    """

    base: Objective
    steps: int

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ForethoughtError(f"Deadline steps must be >= 1, got {self.steps}")

    def cost(self, rollout: Rollout) -> Tensor:
        if rollout.horizon <= self.steps:
            return self.base.cost(rollout)
        d = rollout.disagreement
        cut = Rollout(
            latents=rollout.latents[:, : self.steps],  # (N, steps, D)
            disagreement=None if d is None else d[:, : self.steps],
        )
        return self.base.cost(cut)
