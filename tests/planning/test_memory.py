"""The blocked-move memory: a real step that moved much less than predicted blocks moves in its
direction near its place in imagination, and nothing else."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.models import build_model
from forethought.planning import (
    BlockedMoves,
    CallableObjective,
    MemoryConfig,
    MPCAgent,
    build_planner,
)
from tests.models._specs import VECTOR

Z0 = [0.5, -0.2, 1.0]


def _linear_obs_mlp():
    """obs-mlp whose one step is exactly z + c * a @ W with W = [[1, 0, 0], [0, 1, 0]]: the head
    and the gate's weights zeroed, so the gate is a constant c and nothing else moves."""
    torch.manual_seed(0)
    model = build_model("obs-mlp", "tiny", VECTOR).eval().requires_grad_(False)
    dyn = model.dynamics
    dyn.head.weight.zero_()
    dyn.head.bias.zero_()
    dyn.gate.weight.zero_()
    dyn.gated.weight.copy_(torch.eye(2, 3).expand_as(dyn.gated.weight))
    dyn.gated.bias.zero_()
    return model


def _belief(model, z):
    obs = {"state": torch.tensor([z])}
    first = torch.ones(1, dtype=torch.bool)
    return model.observe(model.initial(1), obs, torch.zeros(1, 2), first)


def _first_move(memory, model, belief, action):
    """The first imagined increment for one held action. (D,)"""
    actions = torch.tensor([[action]], dtype=torch.float32)  # (1, 1, A)
    return memory.imagine_with(model, belief, actions).latents[0, 0] - belief.z[0]


def _remember_a_wall(model, radius=1.0):
    """A memory holding one real push along +x at Z0 that did not move at all."""
    memory = BlockedMoves(model, MemoryConfig(radius=radius))
    before = _belief(model, Z0)
    assert memory.record(before, torch.tensor([[1.0, 0.0]]), before.z.clone(), model)
    return memory, before


def test_a_blocked_push_blocks_moves_its_way_at_its_place_only():
    model = _linear_obs_mlp()
    memory, at_wall = _remember_a_wall(model)
    assert len(memory) == 1 and memory.scale == pytest.approx(1.0)
    gate = float(torch.sigmoid(model.dynamics.gate.bias[0, 0, 0]))
    free = _first_move(BlockedMoves(model, MemoryConfig()), model, at_wall, [1.0, 0.0])
    torch.testing.assert_close(free, torch.tensor([gate, 0.0, 0.0]))  # no memory: the model

    # the same push, and one 27 degrees off it: stopped in full
    torch.testing.assert_close(_first_move(memory, model, at_wall, [1.0, 0.0]), torch.zeros(3))
    torch.testing.assert_close(_first_move(memory, model, at_wall, [1.0, 0.5]), torch.zeros(3))
    # away from the wall, and along it: the model's own moves
    torch.testing.assert_close(
        _first_move(memory, model, at_wall, [-1.0, 0.0]), torch.tensor([-gate, 0.0, 0.0])
    )
    torch.testing.assert_close(
        _first_move(memory, model, at_wall, [0.0, 1.0]), torch.tensor([0.0, gate, 0.0])
    )
    # one unit move (s = 1) along the wall, radius 1: blocked by exp(-1/2)
    beside = _belief(model, [Z0[0], Z0[1] + 1.0, Z0[2]])
    kept = 1.0 - math.exp(-0.5)
    torch.testing.assert_close(
        _first_move(memory, model, beside, [1.0, 0.0]), torch.tensor([kept * gate, 0.0, 0.0])
    )
    far = _belief(model, [Z0[0], Z0[1] + 10.0, Z0[2]])
    torch.testing.assert_close(
        _first_move(memory, model, far, [1.0, 0.0]), torch.tensor([gate, 0.0, 0.0])
    )


def test_a_rollout_stays_stopped_at_the_remembered_place():
    model = _linear_obs_mlp()
    memory, at_wall = _remember_a_wall(model)
    pushes = torch.tensor([[[1.0, 0.0]] * 5])  # (1, 5, A)
    latents = memory.imagine_with(model, at_wall, pushes).latents  # (1, 5, D)
    torch.testing.assert_close(latents[0], at_wall.z.expand(5, 3))
    base = model.imagine(at_wall, pushes).latents
    assert float(base[0, -1, 0] - at_wall.z[0, 0]) > 4.0  # the model alone walks through


def test_only_steps_that_moved_much_less_than_predicted_are_remembered():
    model = _linear_obs_mlp()
    memory = BlockedMoves(model, MemoryConfig())
    before = _belief(model, Z0)
    gate = float(torch.sigmoid(model.dynamics.gate.bias[0, 0, 0]))
    push = torch.tensor([[1.0, 0.0]])
    moved = before.z + torch.tensor([[gate, 0.0, 0.0]])
    assert not memory.record(before, push, moved, model)  # moved as predicted
    assert not memory.record(before, push * 0.05, before.z.clone(), model)  # too small a move
    half = before.z + torch.tensor([[0.6 * gate, 0.0, 0.0]])
    assert not memory.record(before, push, half, model)  # moved more than half
    aside = before.z + torch.tensor([[0.0, gate, 0.0]])
    assert not memory.record(before, push, aside, model)  # as far as predicted, another way
    assert memory.record(before, push, before.z + torch.tensor([[0.2 * gate, 0, 0]]), model)
    # 80% failed: the same push is imagined at 20% of its length
    torch.testing.assert_close(
        _first_move(memory, model, before, [1.0, 0.0]), torch.tensor([0.2 * gate, 0.0, 0.0])
    )
    memory.reset()
    assert len(memory) == 0
    torch.testing.assert_close(
        _first_move(memory, model, before, [1.0, 0.0]), torch.tensor([gate, 0.0, 0.0])
    )


def test_with_forget_a_free_step_the_failed_way_clears_the_place():
    model = _linear_obs_mlp()
    gate = float(torch.sigmoid(model.dynamics.gate.bias[0, 0, 0]))
    push, up = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    for forget, kept in ((False, 0.0), (True, gate)):
        memory = BlockedMoves(model, MemoryConfig(forget=forget))
        before = _belief(model, Z0)
        assert memory.record(before, push, before.z.clone(), model)
        # a free step in another direction says nothing about the push
        assert not memory.record(before, up, before.z + torch.tensor([[0.0, gate, 0.0]]), model)
        torch.testing.assert_close(_first_move(memory, model, before, [1.0, 0.0]), torch.zeros(3))
        # the push, from the same place, moves as predicted: forgotten only with ``forget``
        assert not memory.record(before, push, before.z + torch.tensor([[gate, 0.0, 0.0]]), model)
        torch.testing.assert_close(
            _first_move(memory, model, before, [1.0, 0.0]), torch.tensor([kept, 0.0, 0.0])
        )


def test_a_zero_action_is_never_remembered():
    model = _linear_obs_mlp()
    dyn = model.dynamics
    dyn.head.bias.fill_(0.5)  # the model drifts even when the agent stands still
    memory = BlockedMoves(model, MemoryConfig())
    before = _belief(model, Z0)
    assert not memory.record(before, torch.zeros(1, 2), before.z.clone(), model)
    assert memory.record(before, torch.tensor([[1.0, 0.0]]), before.z.clone(), model)
    assert len(memory) == 1


def test_capacity_keeps_the_latest_steps():
    model = _linear_obs_mlp()
    memory = BlockedMoves(model, MemoryConfig(capacity=2))
    for x in (0.0, 5.0, 10.0):
        before = _belief(model, [x, 0.0, 0.0])
        assert memory.record(before, torch.tensor([[1.0, 0.0]]), before.z.clone(), model)
    assert len(memory) == 2  # of 3 remembered
    gate = float(torch.sigmoid(model.dynamics.gate.bias[0, 0, 0]))
    first = _belief(model, [0.0, 0.0, 0.0])  # forgotten: the oldest of three
    torch.testing.assert_close(
        _first_move(memory, model, first, [1.0, 0.0]), torch.tensor([gate, 0.0, 0.0])
    )
    last = _belief(model, [10.0, 0.0, 0.0])
    torch.testing.assert_close(_first_move(memory, model, last, [1.0, 0.0]), torch.zeros(3))


def test_the_agent_remembers_pushes_that_do_not_move_and_forgets_them_at_reset():
    model = _linear_obs_mlp()
    box = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    planner = build_planner("cem", box, horizon=4, samples=16, iterations=1, elites=4)
    target = torch.tensor([5.0, -0.2, 1.0])  # straight along +x: into the wall
    objective = CallableObjective(
        lambda rollout: (rollout.latents[:, -1] - target).square().sum(-1)
    )
    agent = MPCAgent(model, planner, lambda m, o: objective, execute_steps=2, memory=MemoryConfig())
    obs = np.array(Z0, np.float32)
    agent.reset(obs)
    action = agent.act(obs)
    for _ in range(5):  # the world never moves
        action = agent.act(obs, action)
    assert agent.blocked_steps >= 2  # the first plan's two pushes along +x at least
    assert agent._memory is not None and len(agent._memory) == agent.blocked_steps
    agent.reset(obs)
    assert len(agent._memory) == 0


def test_quiet_cost_remembers_nothing_where_the_objective_says_the_goal_is_near():
    model = _linear_obs_mlp()
    box = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    target = torch.tensor([5.0, -0.2, 1.0])  # along +x from Z0: cost 4.5^2 = 20.25 there
    objective = CallableObjective(
        lambda rollout: (rollout.latents[:, -1] - target).square().sum(-1)
    )
    obs = np.array(Z0, np.float32)
    for quiet, remembers in ((0.0, True), (20.0, True), (21.0, False)):
        planner = build_planner("cem", box, horizon=4, samples=16, iterations=1, elites=4)
        memory = MemoryConfig(quiet_cost=quiet)
        agent = MPCAgent(model, planner, lambda m, o: objective, execute_steps=2, memory=memory)
        agent.reset(obs)
        action = agent.act(obs)
        for _ in range(3):  # the world never moves
            action = agent.act(obs, action)
        assert (agent.blocked_steps > 0) == remembers, quiet


def test_memory_errors_are_one_line():
    with pytest.raises(ForethoughtError, match="obs-mlp or keypoint-mlp"):
        BlockedMoves(build_model("jepa", "tiny", VECTOR), MemoryConfig())
    ungated = build_model("obs-mlp", "tiny", VECTOR, gated_action=False)
    with pytest.raises(ForethoughtError, match="gated action path"):
        BlockedMoves(ungated, MemoryConfig())
    with pytest.raises(ForethoughtError, match="radius and quiet_cost must be >= 0"):
        MemoryConfig(radius=-1.0)
    with pytest.raises(ForethoughtError, match="quiet_cost must be >= 0"):
        MemoryConfig(quiet_cost=-1.0)
    with pytest.raises(ForethoughtError, match="capacity must be >= 1"):
        MemoryConfig(capacity=0)
