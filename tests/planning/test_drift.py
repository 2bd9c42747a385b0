"""Drift-free imagination: the zero action stands exactly still, other plans keep their moves."""

from __future__ import annotations

import numpy as np
import torch

from forethought.envs import make_env
from forethought.planning import (
    GoalObjective,
    MPCAgent,
    TwoRoomSimModel,
    build_planner,
)
from forethought.planning.drift import DriftFreeModel
from tests.planning.helpers import DriftingSim

START = torch.tensor([[15.0, 20.0, 32.0, 32.0]])


def _belief(model):
    return model.observe(model.initial(1), {"state": START}, torch.zeros(1, 2), None)


def test_the_zero_action_stands_still_and_moves_lose_only_the_drift():
    drifting, exact = DriftingSim(), TwoRoomSimModel()
    belief = _belief(drifting)
    actions = torch.zeros(3, 5, 2)  # (N, H, A): stand still, push +x, push +y
    actions[1, :, 0], actions[2, :, 1] = 1.0, 1.0
    assert not torch.allclose(drifting.imagine(belief, actions[:1]).latents[0, -1], START[0])
    fixed = DriftFreeModel(drifting).imagine(belief, actions).latents  # (3, 5, D)
    assert torch.allclose(fixed[0], START.expand(5, -1))
    assert torch.allclose(fixed, exact.imagine(_belief(exact), actions).latents)
    calls = []  # batch sizes of the wrapped model's imagine calls

    class Counting:
        def imagine(self, b, a):
            calls.append(len(a))
            return drifting.imagine(b, a)

    counting = DriftFreeModel(Counting())
    counting.imagine(belief, actions)
    counting.imagine(belief, actions)  # a second search iteration: the drift is kept
    assert calls == [3, 1, 3]


def test_the_agent_with_drift_free_holds_still_at_the_goal():
    space = make_env("forethought/TwoRoom-v0").action_space
    goal = START[0].clone()
    planner = build_planner("cem", space, horizon=5, samples=64, iterations=3, elites=8)
    objective = GoalObjective(goal, mode="sum")
    moves = {}
    for drift_free in (False, True):
        agent = MPCAgent(
            DriftingSim(), planner, lambda m, o: objective, execute_steps=1, drift_free=drift_free
        )
        obs = START[0].numpy()
        agent.reset(obs)
        moves[drift_free] = float(np.abs(agent.act(obs)).max())
    assert moves[False] > 0.5  # the drifting model pushes against its own drift
    assert moves[True] < moves[False]
