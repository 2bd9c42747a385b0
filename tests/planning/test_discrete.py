"""Discrete planners on a small grid world whose shortest path is known (BFS)."""

from __future__ import annotations

import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.models.base import Rollout
from forethought.planning import ActionSpaceInfo, CallableObjective, PlanCarry, build_planner
from forethought.planning.discrete import all_sequences
from tests.planning.helpers import (
    MOVES,
    bfs_distance,
    find,
    first_arrival,
    grid_problem,
    steps_off_goal,
)

SPACE = ActionSpaceInfo(len(MOVES), discrete=True)
SHORTEST = bfs_distance(find("S"), find("G"))  # 7, around a wall


def imagined(model, belief, actions):
    return model.imagine(belief, actions[None]).latents[0]  # (H, 2)


def l1_sum(goal):
    def fn(rollout: Rollout) -> torch.Tensor:
        return (rollout.latents - goal).abs().sum((1, 2))

    return fn


def test_exhaustive_search_finds_the_shortest_path():
    model, belief, goal = grid_problem()
    planner = build_planner("beam", SPACE, horizon=SHORTEST + 1, exhaustive_limit=5**8)
    result = planner.plan(model, belief, CallableObjective(steps_off_goal(goal)))
    assert result.actions.dtype == torch.int64 and result.actions.shape == (SHORTEST + 1,)
    assert result.diagnostics.iterations == 1 and result.diagnostics.samples == 5**8
    latents = imagined(model, belief, result.actions)
    assert first_arrival(latents, goal) == SHORTEST
    assert torch.equal(latents[-1], goal)  # and stays
    assert result.cost == 1.0 * (SHORTEST - 1)  # steps off the goal before arriving


def test_beam_search_finds_the_shortest_path():
    model, belief, goal = grid_problem()
    planner = build_planner("beam", SPACE, horizon=SHORTEST + 2, beam_width=8, exhaustive_limit=0)
    result = planner.plan(model, belief, CallableObjective(l1_sum(goal)))
    assert result.diagnostics.iterations == SHORTEST + 2
    assert first_arrival(imagined(model, belief, result.actions), goal) == SHORTEST


def test_wide_beam_equals_exhaustive_search():
    model, belief, goal = grid_problem()
    objective = CallableObjective(l1_sum(goal))
    full = build_planner("beam", SPACE, horizon=4).plan(model, belief, objective)
    beam = build_planner("beam", SPACE, horizon=4, beam_width=5**3, exhaustive_limit=0)
    assert beam.plan(model, belief, objective).cost == full.cost


def test_categorical_cem_reaches_the_goal():
    model, belief, goal = grid_problem()
    planner = build_planner(
        "cem-discrete", SPACE, horizon=SHORTEST + 2, samples=256, iterations=6, elites=32
    )
    result = planner.plan(model, belief, CallableObjective(l1_sum(goal)))
    latents = imagined(model, belief, result.actions)
    assert first_arrival(latents, goal) == SHORTEST  # 6 of 6 seeds tried
    assert torch.equal(latents[-1], goal)
    assert result.carry.probs is not None and result.carry.probs.shape == (SHORTEST + 2, 5)
    assert torch.allclose(result.carry.probs.sum(-1), torch.ones(SHORTEST + 2))


def test_categorical_cem_is_seeded_and_warm_starts():
    model, belief, goal = grid_problem()
    objective = CallableObjective(l1_sum(goal))

    def make(seed=0):
        return build_planner("cem-discrete", SPACE, horizon=6, samples=64, seed=seed)

    a = make().plan(model, belief, objective)
    assert torch.equal(a.actions, make().plan(model, belief, objective).actions)
    probs = torch.eye(5)[[1, 2, 3, 4, 0, 0]]  # (H, n) one-hot tables
    carry = PlanCarry(actions=probs.argmax(-1), probs=probs, executed=2)
    b = make().plan(model, belief, objective, carry)
    assert b.carry.calls == 1 and b.actions.shape == (6,)


def test_discrete_plans_are_valid_indices():
    model, belief, goal = grid_problem()
    for name in ("cem-discrete", "beam"):
        result = build_planner(name, SPACE, horizon=5).plan(
            model, belief, CallableObjective(l1_sum(goal))
        )
        assert bool(((result.actions >= 0) & (result.actions < 5)).all())


def test_all_sequences_is_lexicographic():
    assert all_sequences(3, 2).tolist() == [[i, j] for i in range(3) for j in range(3)]
    with pytest.raises(ForethoughtError, match="too many"):
        all_sequences(10, 8)
