"""Held actions: the inner planner searches one action per `hold` steps of the real model."""

from __future__ import annotations

import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.eval.goals import budget_planner
from forethought.planning import ActionSpaceInfo, HeldActionPlanner, PlanCarry, build_planner
from tests.planning.helpers import LQ_HORIZON, lq_optimum, lq_problem
from tests.planning.test_continuous import SPACE, Recording


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
    inner = build_planner(
        "cem", SPACE, horizon=LQ_HORIZON // 2, samples=256, iterations=8, elites=25
    )
    result = HeldActionPlanner(inner, hold=2).plan(model, belief, objective)
    with torch.no_grad():
        cost = float(objective.cost(model.imagine(belief, result.actions[None])))
    assert cost - lq_optimum(600, hold=2)[1] < 0.1


class CarryRecorder:
    """A planner that keeps the carry of every call and delegates to another planner."""

    def __init__(self, planner) -> None:
        self.planner, self.carries = planner, []
        self.config = planner.config

    def plan(self, model, belief, objective, carry=None):
        self.carries.append(carry)
        return self.planner.plan(model, belief, objective, carry)


def test_warm_start_shifts_by_whole_decisions():
    model, belief, objective = lq_problem()
    inner = CarryRecorder(
        build_planner("icem", SPACE, horizon=3, samples=32, iterations=2, elites=4)
    )
    planner = HeldActionPlanner(inner, hold=2)
    first = planner.plan(model, belief, objective)
    assert first.carry.actions.shape == (3, 2)  # the inner plan, in decisions
    planner.plan(model, belief, objective, first.carry.after(4))
    assert isinstance(inner.carries[1], PlanCarry) and inner.carries[1].executed == 2


def test_budget_planner_counts_the_horizon_in_steps():
    planner = budget_planner("icem", SPACE, horizon=10, samples=64, iterations=2, hold=3)
    assert isinstance(planner, HeldActionPlanner)
    assert planner.config.horizon == 4 and planner.horizon == 12
    assert not isinstance(budget_planner("cem", SPACE, 10, 64, 2), HeldActionPlanner)


def test_bad_hold_and_discrete_planners_are_clear_errors():
    with pytest.raises(ForethoughtError, match="hold must be >= 1"):
        budget_planner("cem", SPACE, horizon=10, samples=64, iterations=2, hold=0)
    beam = build_planner("beam", ActionSpaceInfo(3, discrete=True), horizon=2)
    with pytest.raises(ForethoughtError, match="continuous planners"):
        HeldActionPlanner(beam, hold=2)
