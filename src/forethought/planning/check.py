"""``check_planner``: run the planner contract on any planner, model and objective.

Like ``check_world_model``: users run it on their own planners, and our tests run it on every
registry entry. Every failure is an ``AssertionError`` that says what broke.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from forethought.models.base import Belief, Obs, Rollout, WorldModel
from forethought.planning.base import ActionSpaceInfo, Objective, Planner, PlanResult

PREFIX = "check_planner: "


class _CountingModel:
    """Delegates to a model and records the batch shape of every ``imagine`` call."""

    def __init__(self, model: WorldModel) -> None:
        self.model, self.calls = model, []
        self.latent_dim = model.latent_dim

    def initial(self, batch_size: int) -> Belief:
        return self.model.initial(batch_size)

    def observe(self, belief: Belief, obs: Obs, prev_action: Tensor, is_first: Tensor) -> Belief:
        return self.model.observe(belief, obs, prev_action, is_first)

    def imagine(self, belief: Belief, actions: Tensor) -> Rollout:
        self.calls.append(tuple(actions.shape))
        return self.model.imagine(belief, actions)

    def encode_goal(self, obs: Obs) -> Tensor:
        return self.model.encode_goal(obs)

    def loss(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        return self.model.loss(batch)


def _check_result(result: Any, space: ActionSpaceInfo, what: str) -> PlanResult:
    assert isinstance(result, PlanResult), f"{PREFIX}{what} returned {type(result).__name__}"
    a = result.actions
    if space.discrete:
        assert a.dim() == 1 and a.dtype == torch.int64, (
            f"{PREFIX}{what}: discrete plans must be (H,) int64, got {tuple(a.shape)} {a.dtype}"
        )
        assert bool(((a >= 0) & (a < space.dim)).all()), f"{PREFIX}{what}: action out of range"
    else:
        assert a.dim() == 2 and a.shape[1] == space.dim, (
            f"{PREFIX}{what}: plans must be (H, {space.dim}), got {tuple(a.shape)}"
        )
        assert bool(torch.isfinite(a).all()), f"{PREFIX}{what}: plan has NaN/inf"
        if space.low is not None and space.high is not None:
            low, high = torch.tensor(space.low), torch.tensor(space.high)
            inside = (a.cpu() >= low) & (a.cpu() <= high)
            assert bool(inside.all()), f"{PREFIX}{what}: plan leaves the action bounds"
    assert isinstance(result.cost, float), f"{PREFIX}{what}: cost must be a float"
    d = result.diagnostics
    assert d.iterations >= 1 and d.samples >= 1 and d.wall_s >= 0, f"{PREFIX}{what}: {d}"
    return result


def check_planner(
    planner: Planner,
    model: WorldModel,
    belief: Belief,
    objective: Objective,
    action_space: Any,
) -> PlanResult:
    """Check shapes, bounds, one batched ``imagine`` per iteration, determinism and warm start.

    Args:
        planner: the planner under test.
        model: a world model whose actions match ``action_space``.
        belief: a batch-1 belief of ``model``.
        objective: any objective for ``model``'s rollouts.
        action_space: an ``ActionSpaceInfo``, Gymnasium space or ``DataSpec``.

    Returns:
        The first plan, for further checks.
    """
    space = ActionSpaceInfo.of(action_space)
    counting = _CountingModel(model)
    first = _check_result(planner.plan(counting, belief, objective, None), space, "plan")
    d = first.diagnostics
    assert len(counting.calls) == d.iterations, (
        f"{PREFIX}{d.iterations} iterations but {len(counting.calls)} imagine calls "
        "(evaluate all candidates of an iteration in one batched call)"
    )
    assert sum(c[0] for c in counting.calls) == d.samples, (
        f"{PREFIX}diagnostics.samples={d.samples} but imagine saw "
        f"{sum(c[0] for c in counting.calls)} candidates"
    )
    again = planner.plan(model, belief, objective, None)
    assert torch.equal(first.actions, again.actions), (
        f"{PREFIX}two calls with the same seed and carry gave different plans "
        "(use a torch.Generator owned by the call, not the global RNG)"
    )
    warm = planner.plan(model, belief, objective, first.carry.after(1))
    _check_result(warm, space, "warm-started plan")
    assert warm.carry.calls == first.carry.calls + 1, f"{PREFIX}the carry must count calls"
    return first
