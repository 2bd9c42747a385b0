"""MPCAgent: the closed loop on the real TwoRoom env, and its bookkeeping."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.envs import make_env
from forethought.envs.two_room import MAX_STEP
from forethought.planning import (
    CallableObjective,
    GoalObjective,
    HeldActionPlanner,
    MPCAgent,
    StopRule,
    TwoRoomSimModel,
    build_planner,
    obs_to_tensors,
)
from tests.planning.helpers import (
    DriftingSim,
    GridModel,
    StuckSim,
    find,
    grid_problem,
    steps_off_goal,
)

TASK = {"wall_x": 32, "door_y": 32, "start": (15.0, 20.0), "goal": (48.0, 45.0)}


def goal_objective(model, obs):
    goal = torch.tensor([*TASK["goal"], TASK["wall_x"], TASK["door_y"]])
    return GoalObjective(goal, mode="sum")


def test_cem_with_the_true_simulator_crosses_to_the_other_room():
    env = make_env("forethought/TwoRoom-v0", obs="state")
    obs, info = env.reset(seed=0, options=TASK)
    assert obs[0] < TASK["wall_x"] < TASK["goal"][0]  # start and goal in different rooms
    planner = build_planner(
        "cem", env.action_space, horizon=20, samples=128, iterations=3, elites=16
    )
    agent = MPCAgent(TwoRoomSimModel(), planner, goal_objective, execute_steps=4)
    agent.reset(obs)
    action, steps = None, 0
    while not info["is_success"] and steps < 60:
        action = agent.act(obs, action)
        assert action.shape == (2,) and action.dtype == np.float32
        assert np.all(np.abs(action) <= MAX_STEP)
        obs, _, _, _, info = env.step(action)
        steps += 1
    assert info["is_success"], f"still {info['distance']:.1f} px from the goal"
    assert obs[0] > TASK["wall_x"]
    assert len(agent.plan_times) == math.ceil(steps / 4)  # replanned every 4 steps
    assert all(t > 0 for t in agent.plan_times)


def test_agent_folds_observations_and_warm_starts():
    class Spy(TwoRoomSimModel):
        def __init__(self):
            super().__init__()
            self.observed = []

        def observe(self, belief, obs, prev_action, is_first):
            self.observed.append((prev_action.clone(), bool(is_first[0])))
            return super().observe(belief, obs, prev_action, is_first)

    model = Spy()
    planner = build_planner(
        "mppi", make_env("forethought/TwoRoom-v0").action_space, horizon=5, samples=8, iterations=1
    )
    agent = MPCAgent(model, planner, goal_objective, execute_steps=2)
    obs = np.array([15.0, 20.0, 32.0, 32.0], np.float32)
    agent.reset(obs)
    a0 = agent.act(obs)  # the reset observation is not folded twice
    a1 = agent.act(obs, a0)
    agent.act(obs, a1)  # third step: a new plan, warm-started from the shifted carry
    assert [first for _, first in model.observed] == [True, False, False]
    assert model.observed[0][0].shape == (1, 2)  # a zero action of the right shape at reset
    assert torch.allclose(model.observed[1][0], torch.as_tensor(a0)[None])
    assert len(agent.plan_times) == 2 and agent.last_result.carry.calls == 2
    with pytest.raises(ForethoughtError, match="needs prev_action"):
        agent.act(obs)


def test_agent_with_a_step_budget_plans_only_the_steps_left():
    seen = []  # the horizon each plan's objective was shown

    def record(rollout):
        seen.append(rollout.horizon)
        return rollout.latents[:, -1, 0]

    space = make_env("forethought/TwoRoom-v0").action_space
    planner = build_planner("cem", space, horizon=5, samples=8, iterations=1, elites=4)
    objective = CallableObjective(record)
    agent = MPCAgent(
        TwoRoomSimModel(), planner, lambda m, o: objective, execute_steps=2, step_budget=3
    )
    obs = np.array([15.0, 20.0, 32.0, 32.0], np.float32)
    agent.reset(obs)
    a = agent.act(obs)
    a = agent.act(obs, a)
    agent.act(obs, a)  # the second plan: one step is left
    assert seen == [3, 1]  # one batched call per plan (one iteration)
    agent.reset(obs)  # a new episode has the whole budget again
    agent.act(obs)
    assert seen[-1] == 3
    with pytest.raises(ForethoughtError, match="step_budget must be >= 1"):
        MPCAgent(TwoRoomSimModel(), planner, step_budget=0)


def test_agent_with_discrete_actions_returns_ints():
    model, _, goal = grid_problem()
    planner = build_planner("beam", gym.spaces.Discrete(5), horizon=7, exhaustive_limit=5**7)
    agent = MPCAgent(model, planner, lambda m, o: CallableObjective(steps_off_goal(goal)))
    start = np.array(find("S"), np.float32)
    agent.reset({"state": start, "mission": np.array("go to G")})
    action = agent.act({"state": start})
    assert isinstance(action, int) and action == 4  # right: going down leads into a dead end


def test_agent_errors():
    model = GridModel()
    planner = build_planner("beam", gym.spaces.Discrete(5), horizon=2)
    agent = MPCAgent(model, planner)
    with pytest.raises(ForethoughtError, match="call reset"):
        agent.act({"state": np.zeros(2, np.float32)}, 0)
    with pytest.raises(ForethoughtError, match="needs objective= or an objective_factory"):
        agent.reset({"state": np.zeros(2, np.float32)})
    with pytest.raises(ForethoughtError, match="execute_steps must be >= 1"):
        MPCAgent(model, planner, execute_steps=0)
    box = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    held = HeldActionPlanner(
        build_planner("cem", box, horizon=3, samples=8, iterations=1, elites=2), 4
    )
    with pytest.raises(ForethoughtError, match="execute a multiple of the hold"):
        MPCAgent(TwoRoomSimModel(), held, execute_steps=6)
    MPCAgent(TwoRoomSimModel(), held, execute_steps=8)  # two whole decisions: fine


def test_obs_to_tensors_adds_a_batch_dimension():
    image = np.zeros((4, 4, 3), np.uint8)
    assert obs_to_tensors(image)["pixels"].shape == (1, 4, 4, 3)
    assert obs_to_tensors(image)["pixels"].dtype == torch.uint8
    out = obs_to_tensors({"state": np.zeros(3), "mission": np.array("hi")})
    assert set(out) == {"state"} and out["state"].dtype == torch.float32
    assert obs_to_tensors(np.zeros(3, np.float32))["state"].shape == (1, 3)


def test_agent_with_stay_check_stands_still_at_the_goal_only():
    class Recorder:  # records the warm start each plan call is handed
        def __init__(self, inner):
            self.inner, self.config, self.executed = inner, inner.config, []

        def plan(self, model, belief, objective, carry=None):
            self.executed.append(None if carry is None else carry.executed)
            return self.inner.plan(model, belief, objective, carry)

    space = make_env("forethought/TwoRoom-v0").action_space
    at_goal = np.array([*TASK["goal"], TASK["wall_x"], TASK["door_y"]], np.float32)
    far = np.array([15.0, 20.0, TASK["wall_x"], TASK["door_y"]], np.float32)
    for start, stay_check, expect_stays in [
        (at_goal, True, 2),  # the first plan is all zeros: a tie with standing still, it runs
        (at_goal, False, 0),
        (far, True, 0),
    ]:
        planner = Recorder(
            build_planner("cem", space, horizon=5, samples=16, iterations=1, elites=4)
        )
        agent = MPCAgent(
            TwoRoomSimModel(), planner, goal_objective, execute_steps=2, stay_check=stay_check
        )
        agent.reset(start)
        actions = [agent.act(start)]
        actions += [agent.act(start, actions[-1]) for _ in range(5)]  # three plans of two steps
        assert agent.stays == expect_stays
        moved = max(float(np.abs(a).max()) for a in actions)
        assert (moved == 0.0) == (expect_stays == 2), (start, stay_check, actions)
        # after standing still the plan was not executed: its warm start is not shifted
        assert planner.executed == [None, 2, 0 if expect_stays else 2]
    with pytest.raises(ForethoughtError, match="stay_check"):
        MPCAgent(
            GridModel(), build_planner("beam", gym.spaces.Discrete(5), horizon=2), stay_check=True
        )


def test_agent_with_a_stop_rule_stands_still_without_planning_near_the_goal():
    space = make_env("forethought/TwoRoom-v0").action_space
    near = np.array([TASK["goal"][0] - 2.0, TASK["goal"][1], TASK["wall_x"], TASK["door_y"]])
    near = near.astype(np.float32)  # 2 px off the goal: a plan could still get closer

    def last_l2(model, obs):
        goal = torch.tensor([*TASK["goal"], TASK["wall_x"], TASK["door_y"]])
        return GoalObjective(goal, mode="last", distance="l2")

    for below, expect_stop in [(1.0, False), (3.0, True)]:
        planner = build_planner("cem", space, horizon=5, samples=64, iterations=2, elites=8)
        stop = StopRule(last_l2(None, None), below)
        agent = MPCAgent(TwoRoomSimModel(), planner, last_l2, execute_steps=2, stop=stop)
        agent.reset(near)
        actions = [agent.act(near)]
        actions.append(agent.act(near, actions[-1]))
        assert agent.stops == int(expect_stop)
        assert len(agent.plan_times) == int(not expect_stop)  # a stop makes no plan
        assert (not np.any(actions)) == expect_stop, (below, actions)
    with pytest.raises(ForethoughtError, match="below must be > 0"):
        StopRule(last_l2(None, None), 0.0)


def test_a_stop_rule_tested_each_step_cuts_a_plan_short_at_the_goal():
    # 8 px from the goal, plans of 6 executed steps: the agent passes within 3 px of the goal
    # in the middle of its first plan; tested before each plan only, it runs the plan to its
    # end; tested each step, it stands from the first step within 3 px and plans no more
    env = make_env("forethought/TwoRoom-v0", obs="state")
    goal = np.array([*TASK["goal"], TASK["wall_x"], TASK["door_y"]], np.float32)
    start = {**TASK, "start": (TASK["goal"][0] - 8.0, TASK["goal"][1])}

    def last_l2(model, obs):
        return GoalObjective(torch.from_numpy(goal), mode="last", distance="l2")

    for each_step in [False, True]:
        planner = build_planner("cem", env.action_space, horizon=6, samples=64, iterations=3)
        stop = StopRule(last_l2(None, None), 3.0, each_step=each_step)
        agent = MPCAgent(TwoRoomSimModel(), planner, last_l2, execute_steps=6, stop=stop)
        obs, _ = env.reset(seed=0, options=start)
        agent.reset(obs)
        action, near, moves = None, [], []
        for _ in range(12):
            action = agent.act(obs, action)
            near.append(float(np.linalg.norm(obs[:2] - goal[:2])) < 3.0)
            moves.append(bool(np.any(action)))
            obs, *_ = env.step(action)
        first_near = near.index(True)
        assert 0 < first_near < 6  # reached in the middle of the first plan
        if each_step:
            assert not any(moves[first_near:]) and len(agent.plan_times) == 1
        else:
            assert any(moves[first_near:6]) and agent.stops >= 1  # the plan ran on


def test_agent_stay_check_runs_the_plan_on_a_tie():
    # every imagined move blocked: every plan scores what standing still scores; moving may
    # still work in the real world, so the agent must not stand still for ever
    space = make_env("forethought/TwoRoom-v0").action_space
    far = np.array([15.0, 20.0, TASK["wall_x"], TASK["door_y"]], np.float32)
    planner = build_planner("cem", space, horizon=5, samples=16, iterations=1, elites=4)
    agent = MPCAgent(StuckSim(), planner, goal_objective, execute_steps=2, stay_check=True)
    agent.reset(far)
    action = agent.act(far)
    assert agent.stays == 0  # the tie went to the plan
    assert np.allclose(action, agent.last_result.actions[0].numpy())


def test_agent_stay_check_scores_the_belief_held_not_an_imagined_drift():
    space = make_env("forethought/TwoRoom-v0").action_space
    at_goal = np.array([*TASK["goal"], TASK["wall_x"], TASK["door_y"]], np.float32)
    planner = build_planner("cem", space, horizon=5, samples=16, iterations=1, elites=4)
    agent = MPCAgent(DriftingSim(), planner, goal_objective, execute_steps=2, stay_check=True)
    agent.reset(at_goal)
    action = agent.act(at_goal)
    assert agent.last_result.cost > 0  # every imagined plan drifts off the goal
    assert agent.stays == 1 and not np.any(action)  # the belief held there scores 0
