"""Closed-loop evaluation: episodes on the real TwoRoom env, success tables, reference rows."""

from __future__ import annotations

import numpy as np
import pytest

from forethought.core.errors import ForethoughtError
from forethought.envs import make_env
from forethought.envs.two_room import EVAL_MARGIN, which_room
from forethought.eval.closed_loop import (
    EpisodeResult,
    PlanningResult,
    RandomAgent,
    evaluate_planning,
    run_episode,
)
from forethought.eval.goals import (
    goal_agent_factory,
    goal_observation,
    two_room_door_bands,
    two_room_failures,
    two_room_tasks,
)
from forethought.eval.metrics import SuccessRate, wilson_interval
from forethought.planning import TwoRoomSimModel, build_planner

ENV = "forethought/TwoRoom-v0"
# Same room, short distances: a small planner reaches them in a few steps.
EASY = [
    {"wall_x": 32, "door_y": 32, "start": (15.0, 20.0), "goal": (21.0, 26.0)},
    {"wall_x": 32, "door_y": 32, "start": (45.0, 45.0), "goal": (50.0, 38.0)},
    {"wall_x": 32, "door_y": 32, "start": (10.0, 50.0), "goal": (16.0, 45.0)},
]


def sim_factory(obs_env):
    planner = build_planner(
        "cem", obs_env.action_space, horizon=6, samples=32, iterations=2, elites=8
    )
    return goal_agent_factory(TwoRoomSimModel(), planner, execute_steps=2)


def test_true_simulator_with_cem_solves_easy_tasks():
    env_fn = lambda: make_env(ENV, obs="state")  # noqa: E731
    result = evaluate_planning(env_fn, sim_factory(env_fn()), EASY, max_steps=15)
    assert result.success.successes == 3 and result.success.n == 3
    assert (result.success.low, result.success.high) == pytest.approx(wilson_interval(3, 3))
    for ep in result.episodes:
        assert ep.success and ep.steps == 15  # the full budget runs: success is the final state
        assert ep.steps_to_success is not None and ep.steps_to_success <= 8
        assert ep.final_distance < 4.5
        assert len(ep.plan_seconds) == 8 and all(t > 0 for t in ep.plan_seconds)  # every 2 steps
    assert result.plan_calls == 24 and result.env_steps == 45
    assert result.steps_to_success_median <= 8 and result.plan_ms_p95 >= result.plan_ms_median
    d = result.to_dict()
    assert d["success"]["rate"] == 1.0 and len(d["episodes"]) == 3


def test_stop_on_success_and_pixel_goal_observations():
    env = make_env(ENV, obs="both")
    goal_obs = goal_observation(env, EASY[0])
    assert np.allclose(goal_obs["state"][:2], EASY[0]["goal"])
    gx, gy = (round(v) for v in EASY[0]["goal"])
    assert goal_obs["pixels"][gy, gx, 0] > 200  # the dot is drawn at the goal
    agent = sim_factory(env)(env, EASY[0])
    ep = run_episode(env, agent, 15, options=EASY[0], stop_on_success=True)
    assert ep.success and ep.steps == ep.steps_to_success < 15


def test_random_agent_row_and_tasks_protocol():
    tasks = two_room_tasks(4, seed=3)
    assert two_room_tasks(2, seed=3)[1]["goal"].tolist() == tasks[1]["goal"].tolist()  # prefix
    for t in tasks:
        assert which_room(t["start"][0], t["wall_x"]) == -which_room(t["goal"][0], t["wall_x"])
        assert min(t["start"].min(), t["goal"].min()) > 4.5 + EVAL_MARGIN - 1e-4
    env_fn = lambda: make_env(ENV, obs="state")  # noqa: E731
    runs = [
        evaluate_planning(env_fn, lambda env, task: RandomAgent(env.action_space, 7), tasks, 10)
        for _ in range(2)
    ]
    assert runs[0].success.n == 4 and runs[0].env_steps == 40
    assert runs[0].plan_calls == 0 and runs[0].plan_ms_median is None
    assert [e.final_distance for e in runs[0].episodes] == [
        e.final_distance for e in runs[1].episodes
    ]  # seeded


def test_wilson_numbers_and_medians_flow_into_the_result():
    def ep(success, first, ms):
        return EpisodeResult(success, 20, first, 1.0, tuple(t / 1000 for t in ms))

    eps = [ep(True, 5, [1, 2]), ep(True, 9, [3]), ep(False, None, [4]), ep(False, 3, [100])]
    r = PlanningResult.from_episodes(eps, max_steps=20)
    assert r.success == SuccessRate.from_counts(2, 4)
    assert r.steps_to_success_median == 7.0  # over the successes only
    assert r.plan_ms_median == pytest.approx(3.0) and r.plan_calls == 5
    assert r.plan_ms_p95 == pytest.approx(np.percentile([1, 2, 3, 4, 100], 95))
    assert "2/4 = 50.0%" in r.summary()
    assert r.to_dict(episodes=False)["success"]["low"] == pytest.approx(wilson_interval(2, 4)[0])


def test_failures_are_counted_by_where_they_ended():
    def ep(success, first, x):
        return EpisodeResult(success, 200, first, 9.0, (), final_state=(x, 30.0, 30.0, 20.0))

    task = {"wall_x": 30, "door_y": 20, "start": np.array([20.0, 30.0]), "goal": [40.0, 30.0]}
    eps = [
        ep(True, 9, 40.0),  # success: not a failure
        ep(False, 50, 20.0),  # reached, then left
        ep(False, None, 45.0),  # goal room, outside the radius
        ep(False, None, 28.3),  # start room, on the wall face (28.5)
        ep(False, None, 12.0),  # start room, away from the wall
        ep(False, None, 30.0),  # inside the wall slab: the doorway
    ]
    counts = two_room_failures([task] * len(eps), eps)
    assert counts == {
        "reached_then_left": 1,
        "goal_room": 1,
        "start_room_at_wall": 1,
        "start_room": 1,
        "doorway": 1,
    }
    env = make_env(ENV, obs="state")
    real = run_episode(env, RandomAgent(env.action_space, 0), 3, options=EASY[0])
    assert real.final_state is not None and len(real.final_state) == 4  # from info["state"]
    assert real.to_dict()["final_state"][2] == EASY[0]["wall_x"]
    with pytest.raises(ForethoughtError, match="final state"):
        two_room_failures([task], [EpisodeResult(False, 200, None, 9.0, ())])


def test_door_bands_count_failures_at_edge_doors_apart():
    tasks = [{"door_y": y} for y in (10, 18, 19, 32, 45, 46, 54)]  # edge: 10, 18, 46, 54
    successes = [False, True, False, True, True, False, False]
    assert two_room_door_bands(tasks, successes) == {"edge": [3, 4], "centre": [1, 3]}


def test_refusals():
    env = make_env(ENV, obs="state")
    agent = RandomAgent(env.action_space)
    with pytest.raises(ForethoughtError, match="render_mode"):
        run_episode(env, agent, 3, options=EASY[0], record_frames=True)
    with pytest.raises(ForethoughtError, match="max_steps"):
        run_episode(env, agent, 0)
    with pytest.raises(ForethoughtError, match="cannot place the agent at the goal"):
        goal_observation(env, {**EASY[0], "goal": (32.0, 10.0)})  # inside the wall
    pendulum = make_env("Pendulum-v1")
    with pytest.raises(ForethoughtError, match="is_success"):
        run_episode(pendulum, RandomAgent(pendulum.action_space), 3)
    with pytest.raises(ForethoughtError, match="at least one"):
        PlanningResult.from_episodes([], 10)
    planner = build_planner("cem", env.action_space, horizon=6, samples=32, iterations=2)
    with pytest.raises(ForethoughtError, match="give --stop-latent"):
        goal_agent_factory(TwoRoomSimModel(), planner, 2, stop_each_step=True)


def test_frames_are_recorded():
    env = make_env(ENV, obs="state", render_mode="rgb_array")
    ep = run_episode(env, RandomAgent(env.action_space), 4, options=EASY[0], record_frames=True)
    assert len(ep.frames) == 5 and ep.frames[0].dtype == np.uint8 and ep.frames[0].ndim == 3
    assert "frames" not in ep.to_dict()
