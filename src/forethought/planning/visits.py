"""Places the agent has stood: a cost on plans that end where the episode already waited.

A goal cost learned from data can have a minimum where the goal is not reachable (TwoRoom:
a temporal-distance head that misses an edge door has its lowest value along the middle
wall 25-40 px from the door). A planner that trusts it walks there and waits for the rest of
the episode: every plan ends where the agent stands. This module counts the episode's real
steps by place and adds, to every plan's cost, a price on ending near places the agent has
already spent steps at; a place where it waited n steps costs about n times ``weight``, so
waiting at a wrong minimum grows dearer every step until a plan that ends elsewhere wins.
A path walked once costs little (about 2.5 visits at any point of it for ``radius`` 1).

For a remembered real latent v_i and a plan's last imagined latent z::

    visits(z) = sum_i exp(-|z - v_i|^2 / (2 (radius * s)^2))   s: the latent move of a unit action
    cost'     = cost + weight * max(0, visits(z) - after)

Steps on which the agent's stop test says "arrived" are not counted (waiting at the goal is
the point), nor the episode's reset observation.

Measured on three TwoRoom pixel agents (docs/benchmarks.md, "Leaving a place the episode
waited at"): with weight 0.5 and ``after`` 40 it halves the agents that end pressed on the
middle wall, and others it moves off the wall end elsewhere: 1,673 of 1,800 pairs over three
planner draws against 1,666 without it. Without ``after``, agents that wait while the
blocked-move memory fills, or near the goal, are pushed away too (one model: 88.5% against 94.0%).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from forethought.core.errors import ForethoughtError
from forethought.models.base import Rollout, WorldModel
from forethought.planning.adapt import require_gated_mlp
from forethought.planning.base import Objective
from forethought.planning.memory import nearness, unit_move


@dataclass(frozen=True)
class VisitConfig:
    """How dear a plan's end near the episode's earlier places is.

    Attributes:
        weight: the cost of one remembered real step at the plan's end point, in the
            objective's own units (a temporal goal cost counts about steps). 0: no cost.
        radius: the kernel's width around a remembered latent, in units of s (the latent
            distance one unit action moves, as the blocked-move memory's).
        after: count only the visits beyond this many at a place: a wait shorter than that
            costs nothing (an agent that waits while its blocked-move memory fills is often
            on its way).
        capacity: the most real steps remembered per episode (the oldest are dropped).
    """

    weight: float = 0.0
    radius: float = 1.0
    after: float = 0.0
    capacity: int = 512

    def __post_init__(self) -> None:
        if not (min(self.weight, self.after) >= 0 and self.radius > 0 and self.capacity >= 1):
            raise ForethoughtError(
                f"VisitConfig: weight and after must be >= 0, radius > 0 and capacity >= 1, "
                f"got {self.weight}, {self.after}, {self.radius}, {self.capacity}"
            )


class Visits:
    """The episode's real latents, and the visit count of a place (:meth:`density`)."""

    def __init__(self, model: WorldModel, config: VisitConfig) -> None:
        what = "the visit cost (--visit-weight)"
        gated = require_gated_mlp(model, what, "with a gated action map to measure moves by")
        self.config, self.scale = config, unit_move(gated, what)
        self._z = torch.zeros(0, gated.latent_dim, device=gated.device)  # (N, D)

    def __len__(self) -> int:
        return int(self._z.shape[0])

    def reset(self) -> None:
        """A new episode: no place visited."""
        self._z = self._z[:0]

    def record(self, z: Tensor) -> None:
        """One real step's (1, D) latent."""
        self._z = torch.cat([self._z, z.detach()])[-self.config.capacity :]

    def density(self, z: Tensor) -> Tensor:
        """How many remembered steps lie near each latent: (...,) from (..., D)."""
        if not len(self):
            return z.new_zeros(z.shape[:-1])
        return nearness(z, self._z, self.config.radius * self.scale).sum(-1)


@dataclass(frozen=True)
class VisitPenalty:
    """``base`` plus ``weight`` times the visit count beyond ``after`` at the rollout's last
    imagined latent (an :class:`~forethought.planning.Objective`)."""

    base: Objective
    visits: Visits

    def cost(self, rollout: Rollout) -> Tensor:
        cfg = self.visits.config
        beyond = (self.visits.density(rollout.latents[:, -1]) - cfg.after).clamp_min(0)  # (N,)
        return self.base.cost(rollout) + cfg.weight * beyond
