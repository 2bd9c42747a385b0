"""Held actions: plan over fewer decision points, each action repeated for ``hold`` steps.

A horizon of H steps with ``hold = r`` leaves ceil(H / r) decisions to search instead of H, so
the same sampling budget reaches much further (TwoRoom's door detours need 60-90 steps). The
imagined rollout still has every step, so objectives see the whole path.

:class:`HeldActionPlanner` wraps any continuous planner: its inner planner searches
``(ceil(H / r), A)`` sequences through :class:`HeldActionModel`, which repeats each action r
times before calling the real model's ``imagine``; the resulting plan is expanded back to
``(r * ceil(H / r), A)`` actions. Warm starts shift by whole decisions (``executed // r``), so
a plan must execute a multiple of ``r`` actions (``MPCAgent`` refuses other counts).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from torch import Tensor

from forethought.core.errors import ForethoughtError
from forethought.models.base import Belief, Rollout, WorldModel
from forethought.planning.base import Objective, PlanCarry, Planner, PlanResult
from forethought.planning.common import DiscretePlannerConfig


def check_hold(hold: int) -> int:
    """``hold`` if it is a valid number of steps per planned action, else a one-line error."""
    if hold < 1:
        raise ForethoughtError(f"hold must be >= 1 step per planned action, got {hold}")
    return hold


def decisions(horizon: int, hold: int) -> int:
    """Decisions that cover ``horizon`` steps when each action is held ``hold`` steps."""
    return -(-horizon // check_hold(hold))


class HeldActionModel:
    """A world model whose ``imagine`` takes one action per ``hold`` steps.

    actions (N, n, A) -> the model's rollout of the (N, n * hold, A) repeated sequence.
    """

    def __init__(self, model: WorldModel, hold: int) -> None:
        self.model, self.hold = model, hold

    def imagine(self, belief: Belief, actions: Tensor) -> Rollout:
        return self.model.imagine(belief, actions.repeat_interleave(self.hold, dim=1))

    def __getattr__(self, name: str) -> Any:  # encode_goal, parameters(), ... of the real model
        return getattr(self.model, name)


class HeldActionPlanner:
    """Any continuous planner searching one action per ``hold`` steps (see module doc).

    Args:
        inner: the planner; its config's ``horizon`` counts decisions, not steps.
        hold: r >= 1, steps each planned action is held for.
    """

    def __init__(self, inner: Planner, hold: int) -> None:
        if isinstance(getattr(inner, "config", None), DiscretePlannerConfig):
            raise ForethoughtError(
                "held actions are for continuous planners (cem, icem, mppi, gradient)"
            )
        self.inner, self.hold = inner, check_hold(hold)

    @property
    def config(self) -> Any:
        """The inner planner's config (its horizon counts decisions)."""
        return self.inner.config  # type: ignore[attr-defined]

    @property
    def horizon(self) -> int:
        """Steps covered by one plan: hold x the inner horizon."""
        return self.hold * int(self.config.horizon)

    def plan(
        self,
        model: WorldModel,
        belief: Belief,
        objective: Objective,
        carry: PlanCarry | None = None,
    ) -> PlanResult:
        inner_carry = (
            None if carry is None else replace(carry, executed=carry.executed // self.hold)
        )
        result = self.inner.plan(
            HeldActionModel(model, self.hold),  # type: ignore[arg-type]
            belief,
            objective,
            inner_carry,
        )
        return replace(result, actions=result.actions.repeat_interleave(self.hold, dim=0))
