"""What the planners share: base configs, seeding, batched evaluation, warm-start shifts.

Every planner config derives from :class:`BoxPlannerConfig` (continuous actions inside
``[low, high]``) or :class:`DiscretePlannerConfig` (``n_actions`` indices), both frozen and
validated on construction.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import Tensor

from forethought.core.errors import ForethoughtError
from forethought.models.base import Belief, WorldModel
from forethought.planning.base import Objective, PlanCarry, PlanDiagnostics, PlanResult


def require(ok: bool, name: str, message: str) -> None:
    if not ok:
        raise ForethoughtError(f"{name}: {message}")


@dataclass(frozen=True)
class BoxPlannerConfig:
    """Fields every continuous planner has.

    Attributes:
        low / high: per-dimension action bounds (A entries each, finite, low < high).
        horizon: H, steps planned ahead.
        samples: N, candidate sequences per iteration.
        iterations: batched ``imagine`` calls per plan.
        seed: seeds the planner's own generator (mixed with the carry's call count).
    """

    low: tuple[float, ...]
    high: tuple[float, ...]
    horizon: int = 12
    samples: int = 256
    iterations: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        name = type(self).__name__
        require(len(self.low) >= 1, name, "low/high need at least one action dimension")
        require(
            len(self.low) == len(self.high),
            name,
            f"low has {len(self.low)} entries but high has {len(self.high)}",
        )
        require(
            all(math.isfinite(v) for v in (*self.low, *self.high)),
            name,
            "action bounds must be finite (pass low=/high= for an unbounded Box)",
        )
        require(
            all(lo < hi for lo, hi in zip(self.low, self.high, strict=True)),
            name,
            f"need low < high in every dimension, got low={self.low} high={self.high}",
        )
        require(self.horizon >= 1, name, f"horizon must be >= 1, got {self.horizon}")
        require(self.samples >= 2, name, f"samples must be >= 2, got {self.samples}")
        require(self.iterations >= 1, name, f"iterations must be >= 1, got {self.iterations}")

    @property
    def action_dim(self) -> int:
        return len(self.low)

    def bounds(self, device: torch.device) -> tuple[Tensor, Tensor]:
        """(A,), (A,) float32 bounds on ``device``."""
        low = torch.tensor(self.low, dtype=torch.float32, device=device)
        return low, torch.tensor(self.high, dtype=torch.float32, device=device)


@dataclass(frozen=True)
class DiscretePlannerConfig:
    """Fields every discrete planner has.

    Attributes:
        n_actions: n, actions are int64 indices in ``[0, n)``.
        horizon: H, steps planned ahead.
        seed: seeds the planner's own generator (mixed with the carry's call count).
    """

    n_actions: int
    horizon: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        name = type(self).__name__
        require(self.n_actions >= 1, name, f"n_actions must be >= 1, got {self.n_actions}")
        require(self.horizon >= 1, name, f"horizon must be >= 1, got {self.horizon}")


def check_belief(belief: Belief, planner: str) -> torch.device:
    """The belief's device; planners plan for one belief (batch size 1) at a time."""
    if belief.batch_size != 1:
        raise ForethoughtError(
            f"{planner}: plan takes a belief of batch size 1, got {belief.batch_size} "
            "(plan each row separately, e.g. belief.index(i))"
        )
    return belief.z.device


def generator(seed: int, carry: PlanCarry | None, device: torch.device) -> torch.Generator:
    """A generator owned by one plan call: same seed and call count, same samples."""
    calls = carry.calls if carry is not None else 0
    gen = torch.Generator(device=device)
    gen.manual_seed((seed * 1_000_003 + calls) % (2**63 - 1))
    return gen


def evaluate(model: WorldModel, belief: Belief, objective: Objective, actions: Tensor) -> Tensor:
    """Costs of N candidates from ONE batched ``imagine`` call. actions (N, H, A)|(N, H) -> (N,).

    NaN costs count as +inf; an error is raised when no candidate has a finite cost.
    """
    n = actions.shape[0]
    cost = objective.cost(model.imagine(belief, actions))
    if tuple(cost.shape) != (n,):
        raise ForethoughtError(
            f"{type(objective).__name__}.cost must return ({n},) costs for {n} candidates, "
            f"got {tuple(cost.shape)}"
        )
    cost = torch.where(torch.isnan(cost), torch.full_like(cost, math.inf), cost)
    if not torch.isfinite(cost).any():
        raise ForethoughtError(
            f"{type(objective).__name__} gave no finite cost for any of {n} candidates "
            "(is the goal or the model output NaN/inf?)"
        )
    return cost


def shift(previous: Tensor, steps: int, horizon: int, fill: Tensor) -> Tensor:
    """Drop the first ``steps`` rows of a plan and pad it with ``fill`` rows to ``horizon``.

    Args:
        previous: (H', ...) the previous plan (any horizon H').
        steps: rows already executed.
        horizon: H, rows of the result.
        fill: (...) one row used for the new tail.

    Returns:
        (H, ...) the shifted plan.
    """
    kept = previous[steps:][:horizon]
    pad = fill.expand(horizon - kept.shape[0], *fill.shape)
    return torch.cat([kept.to(fill.device, fill.dtype), pad], dim=0)


def warm_mean(carry: PlanCarry | None, horizon: int, low: Tensor, high: Tensor) -> Tensor:
    """The initial (H, A) mean: the shifted previous plan, else the centre of the bounds."""
    centre = (low + high) / 2  # (A,)
    if carry is None:
        return centre.expand(horizon, -1).clone()
    if carry.actions.dim() != 2 or carry.actions.shape[1] != low.shape[0]:
        raise ForethoughtError(
            f"the carry holds actions of shape {tuple(carry.actions.shape)}, but this planner "
            f"plans (H, {low.shape[0]}) continuous actions; pass carry=None to start fresh"
        )
    return torch.maximum(
        torch.minimum(shift(carry.actions, carry.executed, horizon, centre), high), low
    )


class Best:
    """Keeps the lowest-cost candidate seen across iterations."""

    def __init__(self) -> None:
        self.actions: Tensor | None = None
        self.cost = math.inf
        self.history: list[float] = []

    def update(self, candidates: Tensor, cost: Tensor) -> None:
        """candidates (N, H, ...) with costs (N,)."""
        i = int(torch.argmin(cost))
        c = float(cost[i])
        if self.actions is None or c < self.cost:
            self.actions, self.cost = candidates[i].detach().clone(), c
        self.history.append(self.cost)


def finish(
    actions: Tensor,
    cost: float,
    carry: PlanCarry | None,
    next_actions: Tensor,
    iterations: int,
    samples: int,
    start: float,
    history: list[float],
    **carried: Tensor | None,
) -> PlanResult:
    """The :class:`PlanResult` of one call: the plan, its cost, the carry for the next call
    (``next_actions`` plus planner-specific ``carried`` fields such as ``elites`` or ``probs``)
    and the call's diagnostics (``start`` is its ``time.perf_counter()`` at entry)."""
    return PlanResult(
        actions=actions,
        cost=cost,
        carry=PlanCarry(actions=next_actions, calls=(carry.calls + 1) if carry else 1, **carried),
        diagnostics=PlanDiagnostics(
            iterations=iterations,
            samples=samples,
            wall_s=time.perf_counter() - start,
            cost_history=tuple(history),
        ),
    )
