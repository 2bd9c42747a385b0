"""The visit cost: plans that end where the episode already spent steps cost more, by how many
steps, and nowhere else; an agent waiting at a wrong minimum of its goal cost leaves it."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.models import build_model
from forethought.models.base import Rollout
from forethought.planning import (
    CallableObjective,
    GoalObjective,
    MPCAgent,
    StopRule,
    VisitConfig,
    VisitPenalty,
    Visits,
    build_planner,
)
from tests.models._specs import VECTOR
from tests.planning.test_memory import Z0, _linear_obs_mlp

BOX = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
W = np.eye(2, 3, dtype=np.float32)  # the linear model's exact action map: a unit action moves 1


def test_density_counts_remembered_steps_with_a_gaussian_of_radius_unit_moves():
    model = _linear_obs_mlp()  # unit move s = 1
    z0, z1 = torch.tensor([Z0]), torch.tensor([Z0]) + torch.tensor([[1.0, 0.0, 0.0]])
    for radius in (1.0, 2.0):
        visits = Visits(model, VisitConfig(weight=1.0, radius=radius))
        assert float(visits.density(z0)[0]) == 0.0  # nothing visited yet
        for z in (z0, z0, z1):
            visits.record(z)
        expected = 2 + math.exp(-1 / (2 * radius**2))
        assert float(visits.density(z0)[0]) == pytest.approx(expected, rel=1e-5)
        far = z0 + torch.tensor([[0.0, 20.0, 0.0]])
        assert float(visits.density(far)[0]) < 1e-6
        visits.reset()
        assert len(visits) == 0


def test_capacity_keeps_the_latest_steps():
    visits = Visits(_linear_obs_mlp(), VisitConfig(weight=1.0, capacity=2))
    for x in (0.0, 10.0, 20.0):
        visits.record(torch.tensor([[x, 0.0, 0.0]]))
    assert len(visits) == 2
    assert float(visits.density(torch.tensor([[0.0, 0.0, 0.0]]))[0]) < 1e-6  # dropped


def test_the_penalty_prices_the_last_imagined_latent_only():
    visits = Visits(_linear_obs_mlp(), VisitConfig(weight=3.0))
    here = torch.tensor([Z0])
    visits.record(here)
    visits.record(here)
    base = CallableObjective(lambda rollout: torch.full(rollout.latents.shape[:1], 7.0))
    away = here + torch.tensor([[0.0, 30.0, 0.0]])
    ends_here = torch.stack([torch.cat([away, here]), torch.cat([here, away])])  # (2, 2, D)
    cost = VisitPenalty(base, visits).cost(Rollout(latents=ends_here))
    assert cost.tolist() == pytest.approx([7.0 + 3.0 * 2, 7.0], abs=1e-5)


def test_visits_up_to_after_cost_nothing():
    visits = Visits(_linear_obs_mlp(), VisitConfig(weight=3.0, after=0.0))
    here = torch.tensor([Z0])
    for _ in range(3):
        visits.record(here)
    base = CallableObjective(lambda rollout: torch.zeros(rollout.latents.shape[:1]))
    rollout = Rollout(latents=here[:, None])  # (1, 1, D): ends where it waited 3 steps
    for after, expected in ((0.0, 9.0), (2.0, 3.0), (5.0, 0.0)):
        visits.config = VisitConfig(weight=3.0, after=after)
        assert float(VisitPenalty(base, visits).cost(rollout)[0]) == pytest.approx(expected)


def _run(agent, steps=24):
    """The agent in a world that moves exactly as the model says; the farthest it got from Z0."""
    obs = np.array(Z0, np.float32)
    agent.reset(obs)
    action, farthest = agent.act(obs), 0.0
    for _ in range(steps):
        obs = obs + np.asarray(action, np.float32) @ W
        farthest = max(farthest, float(np.linalg.norm(obs - np.array(Z0))))
        action = agent.act(obs, action)
    return farthest


def _agent(visits, stop=None):
    """A goal cost whose minimum is the start itself: without visits the agent waits there."""
    home = torch.tensor(Z0)
    objective = CallableObjective(lambda rollout: (rollout.latents - home).norm(dim=-1).mean(-1))
    planner = build_planner("cem", BOX, horizon=4, samples=64, iterations=3, elites=8)
    return MPCAgent(_linear_obs_mlp(), planner, lambda m, o: objective, 2, visits=visits, stop=stop)


def test_an_agent_leaves_a_minimum_it_waited_at_only_with_the_visit_cost():
    assert _run(_agent(None)) < 0.5  # waits at the minimum
    agent = _agent(VisitConfig(weight=1.0))
    assert _run(agent) > 1.5  # each step waited makes it dearer: it leaves
    assert agent._visits is not None and len(agent._visits) == 24


def test_steps_on_which_the_stop_test_holds_are_not_counted():
    stop = StopRule(GoalObjective(torch.tensor(Z0), mode="last", distance="l2"), below=0.5)
    agent = _agent(VisitConfig(weight=1.0), stop=stop)
    assert _run(agent) < 1.0  # arrived: it stands, and standing there costs nothing more
    assert agent._visits is not None and len(agent._visits) == 0


def test_visit_errors_are_one_line():
    with pytest.raises(ForethoughtError, match="visit cost.*obs-mlp or keypoint-mlp"):
        Visits(build_model("jepa", "tiny", VECTOR), VisitConfig(weight=1.0))
    ungated = build_model("obs-mlp", "tiny", VECTOR, gated_action=False)
    with pytest.raises(ForethoughtError, match="visit cost.*gated action path"):
        Visits(ungated, VisitConfig(weight=1.0))
    for bad in ({"weight": -1.0}, {"radius": 0.0}, {"after": -1.0}, {"capacity": 0}):
        with pytest.raises(ForethoughtError, match="VisitConfig"):
            VisitConfig(**bad)
