"""Held actions: the inner planner searches one action per `hold` steps of the real model."""

from __future__ import annotations

import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.eval.closed_loop import budget_planner
from forethought.planning import HeldActionPlanner, PlanCarry, build_planner
from tests.planning.helpers import LQ_HIGH, LQ_LOW, lq_problem
from tests.planning.test_continuous import SPACE, Recording


def held_optimum(decisions: int, hold: int, steps: int = 600) -> float:
    """Best cost over held sequences by projected gradient (the restricted QP is convex)."""
    model, belief, objective = lq_problem()
    low, high = torch.tensor(LQ_LOW), torch.tensor(LQ_HIGH)
    a = torch.zeros(1, decisions, 2, requires_grad=True)
    for _ in range(steps):
        cost = objective.cost(model.imagine(belief, a.repeat_interleave(hold, 1))).sum()
        (g,) = torch.autograd.grad(cost, a)
        with torch.no_grad():
            a -= 0.02 * g
            a.copy_(torch.maximum(torch.minimum(a, high), low))
    with torch.no_grad():
        return float(objective.cost(model.imagine(belief, a.repeat_interleave(hold, 1))))


def test_the_model_sees_every_step_and_the_plan_holds_each_action():
    model, belief, objective = lq_problem()
    recording = Recording(model)
    inner = build_planner("cem", SPACE, horizon=2, samples=64, iterations=3, elites=8)
    result = HeldActionPlanner(inner, hold=2).plan(recording, belief, objective)
    assert result.actions.shape == (4, 2)
    assert torch.equal(result.actions[0::2], result.actions[1::2])
    for actions in recording.calls:  # (N, 4, 2): every imagined step, actions held in pairs
        assert actions.shape[1:] == (4, 2)
        assert torch.equal(actions[:, 0::2], actions[:, 1::2])


def test_reaches_the_optimum_among_held_sequences():
    model, belief, objective = lq_problem()
    inner = build_planner("cem", SPACE, horizon=2, samples=256, iterations=8, elites=25)
    result = HeldActionPlanner(inner, hold=2).plan(model, belief, objective)
    with torch.no_grad():
        cost = float(objective.cost(model.imagine(belief, result.actions[None])))
    assert cost - held_optimum(2, 2) < 0.1


def test_warm_start_shifts_by_whole_decisions():
    model, belief, objective = lq_problem()
    inner = build_planner("icem", SPACE, horizon=3, samples=32, iterations=2, elites=4)
    planner = HeldActionPlanner(inner, hold=2)
    first = planner.plan(model, belief, objective)
    assert first.carry.actions.shape == (3, 2)  # the inner plan, in decisions
    seen = []
    real_plan = inner.plan
    inner.plan = lambda m, b, o, c=None: seen.append(c) or real_plan(m, b, o, c)
    planner.plan(model, belief, objective, first.carry.after(4))
    assert isinstance(seen[0], PlanCarry) and seen[0].executed == 2


def test_budget_planner_counts_the_horizon_in_steps():
    planner = budget_planner("icem", SPACE, horizon=10, samples=64, iterations=2, hold=3)
    assert isinstance(planner, HeldActionPlanner)
    assert planner.config.horizon == 4 and planner.horizon == 12
    assert not isinstance(budget_planner("cem", SPACE, 10, 64, 2), HeldActionPlanner)


def test_bad_hold_is_a_clear_error():
    with pytest.raises(ForethoughtError, match="hold must be >= 1"):
        budget_planner("cem", SPACE, horizon=10, samples=64, iterations=2, hold=0)
