"""The planning contract: objectives score imagined rollouts, planners turn them into actions.

A planner is a pure function of ``(model, belief, objective, carry)``: it never touches a real
environment. Every iteration evaluates all N candidate action sequences in one batched
``model.imagine(belief, actions)`` call (the belief has batch size 1 and is shared by the rows).

Warm start is explicit: a :class:`PlanResult` carries a :class:`PlanCarry`; pass it (after
``carry.after(k)`` when k steps of the plan were executed) to the next ``plan`` call, which shifts
the previous plan by k steps instead of starting from scratch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

from torch import Tensor

from forethought.core.errors import ForethoughtError
from forethought.models.base import Belief, Rollout, WorldModel


@runtime_checkable
class Objective(Protocol):
    """A cost on imagined futures; lower is better."""

    def cost(self, rollout: Rollout) -> Tensor:
        """The cost of each candidate. rollout.latents (N, H, D) -> (N,)."""
        ...


@dataclass(frozen=True)
class PlanCarry:
    """Warm-start state handed from one ``plan`` call to the next.

    Attributes:
        actions: the previous plan's distribution centre: (H, A) float, or (H,) int64 (discrete).
        executed: steps of that plan executed before the next call; it is shifted by this much.
        calls: how many plan calls came before (mixed into the seed, so calls differ).
        elites: (K, H, A) elite sequences to reuse after shifting (iCEM), or None.
        probs: (H, n) per-step action probabilities (categorical CEM), or None.
    """

    actions: Tensor
    executed: int = 1
    calls: int = 0
    elites: Tensor | None = None
    probs: Tensor | None = None

    def __post_init__(self) -> None:
        if self.actions.dim() not in (1, 2):
            raise ForethoughtError(
                f"PlanCarry.actions must be (H, A) or (H,), got {tuple(self.actions.shape)}"
            )
        if self.executed < 0 or self.calls < 0:
            raise ForethoughtError(
                f"PlanCarry.executed and calls must be >= 0, got {self.executed}, {self.calls}"
            )
        h = self.actions.shape[0]
        if self.elites is not None and tuple(self.elites.shape[1:]) != tuple(self.actions.shape):
            raise ForethoughtError(
                f"PlanCarry.elites must be (K, {', '.join(map(str, self.actions.shape))}), "
                f"got {tuple(self.elites.shape)}"
            )
        if self.probs is not None and (self.probs.dim() != 2 or self.probs.shape[0] != h):
            raise ForethoughtError(
                f"PlanCarry.probs must be ({h}, n), got {tuple(self.probs.shape)}"
            )

    def after(self, steps: int) -> PlanCarry:
        """This carry, for a next call made after ``steps`` actions of the plan were executed."""
        return replace(self, executed=steps)


@dataclass(frozen=True)
class PlanDiagnostics:
    """What one ``plan`` call did.

    Attributes:
        iterations: batched ``imagine`` calls made.
        samples: candidate sequences evaluated in total.
        wall_s: wall-clock seconds of the call.
        cost_history: best cost seen after each iteration.
    """

    iterations: int
    samples: int
    wall_s: float
    cost_history: tuple[float, ...] = ()


@dataclass(frozen=True)
class PlanResult:
    """A plan: actions to execute from now on, their expected cost and the warm-start carry.

    Attributes:
        actions: (H, A) float inside the action bounds, or (H,) int64 for discrete actions.
        cost: the objective's cost of ``actions`` (MPPI: the weighted mean cost of its samples).
    """

    actions: Tensor
    cost: float
    carry: PlanCarry
    diagnostics: PlanDiagnostics

    def __post_init__(self) -> None:
        if self.actions.dim() not in (1, 2):
            raise ForethoughtError(
                f"PlanResult.actions must be (H, A) or (H,), got {tuple(self.actions.shape)}"
            )


@runtime_checkable
class Planner(Protocol):
    """Chooses an action sequence for one belief by imagining candidates with a world model."""

    def plan(
        self,
        model: WorldModel,
        belief: Belief,
        objective: Objective,
        carry: PlanCarry | None = None,
    ) -> PlanResult:
        """Plan from ``belief`` (batch size 1); ``carry`` is the previous result's carry."""
        ...


@dataclass(frozen=True)
class ActionSpaceInfo:
    """The action space a planner searches: a bounded Box of size A, or n discrete actions.

    Attributes:
        dim: A (Box) or n (Discrete).
        discrete: True for int64 action indices in ``[0, n)``.
        low / high: per-dimension Box bounds (None for discrete spaces or unbounded Boxes).
    """

    dim: int
    discrete: bool = False
    low: tuple[float, ...] | None = None
    high: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.dim < 1:
            raise ForethoughtError(f"an action space needs dim >= 1, got {self.dim}")
        if (self.low is None) != (self.high is None):
            raise ForethoughtError("give both low and high action bounds, or neither")

    @property
    def bounded(self) -> bool:
        if self.low is None or self.high is None:
            return False
        return all(math.isfinite(v) for v in (*self.low, *self.high))

    @staticmethod
    def of(space: Any) -> ActionSpaceInfo:
        """From an ``ActionSpaceInfo``, a Gymnasium Box/Discrete space, or a ``DataSpec``."""
        if isinstance(space, ActionSpaceInfo):
            return space
        if hasattr(space, "action_dim") and hasattr(space, "discrete"):  # models.DataSpec
            low, high = getattr(space, "action_low", None), getattr(space, "action_high", None)
            return ActionSpaceInfo(int(space.action_dim), bool(space.discrete), low, high)
        import gymnasium as gym

        if isinstance(space, gym.spaces.Discrete):
            return ActionSpaceInfo(int(space.n), discrete=True)
        if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
            low = tuple(float(x) for x in space.low)
            high = tuple(float(x) for x in space.high)
            return ActionSpaceInfo(int(space.shape[0]), False, low, high)
        raise ForethoughtError(
            f"planners take Box actions of shape (A,) or Discrete actions, got {space!r}"
        )
