"""The planner registry, and the planner contract checked on every entry."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

from forethought.core.errors import ForethoughtError
from forethought.models.spec import DataSpec
from forethought.planning import (
    PLANNERS,
    ActionSpaceInfo,
    CallableObjective,
    CEMPlanner,
    build_planner,
    check_planner,
    list_planners,
    planner_config,
)
from tests.planning.helpers import LQ_HIGH, LQ_LOW, grid_problem, lq_problem, steps_off_goal

SMALL = {  # budgets small enough for a contract check
    "cem": dict(samples=16, iterations=2, elites=4),
    "icem": dict(samples=16, iterations=3, elites=4),
    "mppi": dict(samples=16, iterations=2),
    "gradient": dict(samples=4, iterations=3),
    "cem-discrete": dict(samples=16, iterations=2, elites=4),
    "beam": dict(beam_width=4, exhaustive_limit=0),
}


def test_the_six_planners_are_registered():
    assert list_planners() == ["beam", "cem", "cem-discrete", "gradient", "icem", "mppi"]
    assert set(SMALL) == set(PLANNERS)


@pytest.mark.parametrize("name", list_planners())
def test_every_planner_passes_the_contract_check(name):
    if PLANNERS[name].discrete:
        model, belief, goal = grid_problem()
        space = ActionSpaceInfo(5, discrete=True)
        objective = CallableObjective(steps_off_goal(goal))
    else:
        model, belief, objective = lq_problem()
        space = ActionSpaceInfo(2, False, LQ_LOW, LQ_HIGH)
    planner = build_planner(name, space, horizon=4, **SMALL[name])
    check_planner(planner, model, belief, objective, space)


def test_unknown_name_suggests_close_matches():
    with pytest.raises(ForethoughtError, match=r"unknown planner 'icme'; did you mean 'icem'") as e:
        build_planner("icme", ActionSpaceInfo(2, False, (-1, -1), (1, 1)))
    assert "\n" not in str(e.value) and "available: beam, cem" in str(e.value)


def test_unknown_setting_suggests_close_matches():
    with pytest.raises(ForethoughtError, match=r"no setting 'horizn'; did you mean 'horizon'"):
        build_planner("cem", ActionSpaceInfo(2, False, (-1, -1), (1, 1)), horizn=5)


def test_action_space_kind_must_fit_the_planner():
    with pytest.raises(ForethoughtError, match="does not plan discrete actions; use one of beam"):
        build_planner("cem", gym.spaces.Discrete(4))
    with pytest.raises(ForethoughtError, match="does not plan continuous actions"):
        build_planner("beam", gym.spaces.Box(-1, 1, (2,)))


def test_spaces_from_gymnasium_and_dataspec():
    box = gym.spaces.Box(np.array([-2, 0], np.float32), np.array([2, 1], np.float32))
    planner = build_planner("cem", box, horizon=7)
    assert isinstance(planner, CEMPlanner)
    assert planner.config.low == (-2.0, 0.0) and planner.config.high == (2.0, 1.0)
    assert planner.config.horizon == 7
    assert build_planner("beam", gym.spaces.Discrete(3)).config.n_actions == 3
    spec = DataSpec(obs=(), action_dim=2, action_low=(-1.0, -1.0), action_high=(1.0, 1.0))
    assert planner_config("mppi", spec).low == (-1.0, -1.0)


def test_unbounded_box_needs_explicit_bounds():
    box = gym.spaces.Box(-np.inf, np.inf, (2,))
    with pytest.raises(ForethoughtError, match="needs finite action bounds"):
        build_planner("mppi", box)
    cfg = planner_config("mppi", box, low=-3, high=3)  # scalars apply to every dimension
    assert cfg.low == (-3.0, -3.0) and cfg.high == (3.0, 3.0)


def test_configs_are_frozen():
    cfg = planner_config("icem", ActionSpaceInfo(1, False, (-1.0,), (1.0,)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.horizon = 3
