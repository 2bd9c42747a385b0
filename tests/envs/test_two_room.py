"""Tests for the TwoRoom env and its scripted exploration policy."""

from __future__ import annotations

import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from forethought.envs.exploration import (
    TwoRoomExplorer,
    make_contact_explorer,
    make_door_edge_explorer,
    make_explorer,
    make_full_range_explorer,
    make_wall_follow_explorer,
)
from forethought.envs.two_room import (
    DOOR_HALF,
    MAX_STEP,
    WALL_HALF,
    WALL_VALUE,
    TwoRoomEnv,
    move,
    sample_start_goal_in_different_rooms,
    wall_rects,
    which_room,
)

ENV_ID = "forethought/TwoRoom-v0"
MODES = ["state", "pixels", "both"]


def _state(obs) -> np.ndarray:
    return obs["state"] if isinstance(obs, dict) else obs


def _in_wall(env: TwoRoomEnv, x: float, y: float) -> bool:
    """Whether the pixel holding (x, y) is a wall pixel or the point left the arena."""
    px, py = math.floor(x + 0.5), math.floor(y + 0.5)
    return not (4.5 < x < 59.5 and 4.5 < y < 59.5) or env._background[py, px] == WALL_VALUE


@pytest.mark.parametrize("mode", MODES)
def test_check_env_passes(mode: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(TwoRoomEnv(obs_mode=mode, render_mode="rgb_array"))
        check_env(TwoRoomEnv(obs_mode=mode).unwrapped)


@pytest.mark.parametrize("mode", MODES)
def test_make_with_time_limit_and_checker(mode: str) -> None:
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point="forethought.envs.two_room:TwoRoomEnv")
    env = gym.make(ENV_ID, obs_mode=mode, max_episode_steps=5)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    for t in range(5):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert not terminated and truncated == (t == 4)
        assert reward == pytest.approx(-info["distance"])
    assert set(info) >= {"state", "goal", "distance", "is_success"}
    assert info["state"].dtype == np.float32 and info["goal"].shape == (2,)


def test_invalid_obs_mode() -> None:
    with pytest.raises(ValueError, match="state.*pixels.*both"):
        TwoRoomEnv(obs_mode="rgb")


def test_spaces_and_render() -> None:
    env = TwoRoomEnv(obs_mode="pixels", render_mode="rgb_array")
    assert env.observation_space.shape == (65, 65, 1)
    assert env.observation_space.dtype == np.uint8
    assert isinstance(TwoRoomEnv(obs_mode="both").observation_space, gym.spaces.Dict)
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3


def test_deterministic_under_seed() -> None:
    actions = np.random.default_rng(0).uniform(-3, 3, (50, 2)).astype(np.float32)
    runs = []
    for _ in range(2):
        env = TwoRoomEnv(obs_mode="both")
        obs, _ = env.reset(seed=7)
        frames = [obs["pixels"].copy()]
        frames += [env.step(a)[0]["pixels"].copy() for a in actions]
        runs.append(np.stack(frames))
    np.testing.assert_array_equal(runs[0], runs[1])
    other = TwoRoomEnv(obs_mode="state").reset(seed=8)[0]
    assert not np.array_equal(other, _state(TwoRoomEnv(obs_mode="state").reset(seed=7)[0]))


def test_never_enters_walls_or_crosses_outside_door() -> None:
    env = TwoRoomEnv(obs_mode="state")
    rng = np.random.default_rng(1)
    for ep in range(60):
        obs, _ = env.reset(seed=ep)
        wall_x, door_y = env.wall_x, env.door_y
        for _ in range(150):
            prev = obs
            obs = env.step(rng.normal(0.0, 4.0, 2))[0]
            x, y = float(obs[0]), float(obs[1])
            assert not _in_wall(env, x, y)
            if which_room(x, wall_x) == 0:  # inside the wall slab only in the doorway
                assert abs(y - door_y) < 4.5
            x0, y0 = float(prev[0]), float(prev[1])
            for face in (wall_x - 1.5, wall_x + 1.5):  # a face is crossed only inside the door
                if (x0 - face) * (x - face) < 0:
                    assert abs(y0 + (y - y0) * (face - x0) / (x - x0) - door_y) <= 4.5


def test_blocked_by_wall_and_through_the_door() -> None:
    env = TwoRoomEnv(obs_mode="state")
    options = {"wall_x": 30, "door_y": 20, "start": (25.0, 45.0), "goal": (40.0, 45.0)}
    env.reset(seed=0, options=options)
    for _ in range(20):  # push right, far from the door: stops in front of the wall
        obs = env.step(np.array([2.45, 0.0], np.float32))[0]
    assert 28.0 < obs[0] < 28.5 and obs[1] == pytest.approx(45.0)
    env.reset(seed=0, options={**options, "start": (25.0, 20.0)})
    for _ in range(6):  # the same push along the door row crosses
        obs = env.step(np.array([2.45, 0.0], np.float32))[0]
    assert which_room(float(obs[0]), 30) == 1
    env.reset(seed=0, options={**options, "start": (28.4, 23.0)})
    obs = env.step(np.array([2.0, 1.5], np.float32))[0]  # diagonal into the wall above the door
    assert not _in_wall(env, float(obs[0]), float(obs[1])) and obs[0] < 31.5
    rects = wall_rects(30, 20)  # whole segments, however long, cannot tunnel
    assert move(25.0, 45.0, 20.0, 0.0, rects) == pytest.approx((28.5, 45.0), abs=2e-3)
    assert move(25.0, 20.0, 20.0, 4.6, rects) == pytest.approx((45.0, 24.6))
    assert move(10.0, 10.0, -30.0, -30.0, rects) == pytest.approx((4.5, 4.5), abs=2e-3)


def test_action_norm_is_clipped() -> None:
    env = TwoRoomEnv(obs_mode="state")
    env.reset(seed=0, options={"wall_x": 44, "door_y": 30, "start": (20.0, 30.0)})
    obs = env.step(np.array([2.45, 2.45], np.float32))[0]
    moved = np.array([obs[0] - 20.0, obs[1] - 30.0])
    assert np.linalg.norm(moved) == pytest.approx(MAX_STEP, rel=1e-5)
    np.testing.assert_allclose(moved / np.linalg.norm(moved), [2**-0.5, 2**-0.5], rtol=1e-5)


def test_success_flag() -> None:
    env = TwoRoomEnv(obs_mode="state")
    _, info = env.reset(seed=0, options={"start": (10.0, 10.0), "goal": (10.0, 10.0)})
    assert info["is_success"] and info["distance"] == pytest.approx(0.0)
    _, info = env.reset(seed=0, options={"start": (10.0, 10.0), "goal": (50.0, 50.0)})
    assert not info["is_success"] and info["distance"] > 50


def test_different_rooms_protocol() -> None:
    a = sample_start_goal_in_different_rooms(np.random.default_rng(3))
    b = sample_start_goal_in_different_rooms(np.random.default_rng(3))
    np.testing.assert_array_equal(a["start"], b["start"])
    env = TwoRoomEnv(obs_mode="state")
    for seed in range(20):
        opts = sample_start_goal_in_different_rooms(np.random.default_rng(seed))
        obs, info = env.reset(seed=seed, options=opts)
        assert which_room(float(obs[0]), opts["wall_x"]) == -which_room(
            float(info["goal"][0]), opts["wall_x"]
        )
        obs, info = env.reset(seed=seed, options={"different_rooms": True})
        assert which_room(float(obs[0]), obs[2]) == -which_room(float(info["goal"][0]), obs[2])


def test_pixel_peak_at_agent_and_sigma() -> None:
    env = TwoRoomEnv(obs_mode="both")
    for start in [(12.3, 40.7), (50.0, 15.0), (33.6, 52.2)]:
        obs, _ = env.reset(seed=0, options={"wall_x": 25, "door_y": 20, "start": start})
        img = obs["pixels"][..., 0].astype(np.float64)
        py, px = np.unravel_index(np.argmax(img), img.shape)
        assert abs(px - start[0]) <= 1.0 and abs(py - start[1]) <= 1.0
    # at an integer position the row profile is 255 * exp(-d^2 / (2 sigma^2)), truncated
    obs, _ = env.reset(seed=0, options={"wall_x": 25, "door_y": 20, "start": (34.0, 52.0)})
    profile = obs["pixels"][52, 31:38, 0].astype(np.float64)  # (7,)
    d = np.arange(-3, 4)
    sigma = np.sqrt(np.mean(d[d != 0] ** 2 / (-2 * np.log(profile[d != 0] / 255.0))))
    assert profile[3] == 255 and sigma == pytest.approx(1.3, abs=0.05)


def _explore(
    seed_base: int, episodes: int, steps: int, factory=make_explorer
) -> tuple[float, list[np.ndarray], float]:
    """(share of episodes that crossed rooms, every action, share of blocked steps)."""
    env = TwoRoomEnv(obs_mode="state")
    policy = factory(env.observation_space, env.action_space)
    crossed, all_actions, blocked, moving = 0, [], 0, 0
    for ep in range(episodes):
        obs, info = env.reset(seed=seed_base + ep)
        policy.reset(obs, info, np.random.default_rng(seed_base + ep))
        rooms = {which_room(float(obs[0]), float(obs[2]))}
        for _ in range(steps):
            action = policy.act(obs, info)
            assert env.action_space.contains(action)
            all_actions.append(action)
            before = obs[:2].copy()
            obs, _, _, _, info = env.step(action)
            rooms.add(which_room(float(obs[0]), float(obs[2])))
            if np.linalg.norm(action) > 0.5:
                moving += 1
                blocked += np.linalg.norm(obs[:2] - before) < 0.5 * np.linalg.norm(action)
        crossed += {-1, 1} <= rooms
    return crossed / episodes, all_actions, blocked / moving


def test_explorer_valid_deterministic_and_crosses() -> None:
    share, actions, _ = _explore(0, 200, 100)
    assert share > 0.10, f"only {share:.0%} of episodes crossed rooms"
    assert max(np.linalg.norm(a) for a in actions) <= MAX_STEP + 1e-5
    _, again, _ = _explore(0, 3, 50)
    np.testing.assert_array_equal(np.stack(actions[:50]), np.stack(again[:50]))
    assert isinstance(
        make_explorer(gym.spaces.Box(0, 1, (4,)), TwoRoomEnv().action_space), TwoRoomExplorer
    )
    with pytest.raises(ValueError):
        make_explorer(gym.spaces.Box(0, 1, (4,)), gym.spaces.Discrete(3))


def test_contact_explorer_stays_at_walls_far_more_often() -> None:
    _, _, bouncing = _explore(0, 40, 200)
    share, _, staying = _explore(0, 40, 200, make_contact_explorer)
    assert bouncing < 0.1 and staying > 0.25, (bouncing, staying)
    assert share > 0.10  # still crosses the door


def _at_box_edge(actions: list[np.ndarray]) -> float:
    return float((np.abs(np.stack(actions)).max(1) > MAX_STEP - 1e-4).mean())


def test_full_range_explorer_covers_the_action_box() -> None:
    _, walker, _ = _explore(0, 40, 200, make_contact_explorer)
    share, actions, staying = _explore(0, 40, 200, make_full_range_explorer)
    norms = np.linalg.norm(np.stack(actions), axis=1)
    assert (norms > MAX_STEP + 0.1).mean() > 0.05  # diagonals past the disc (the env caps them)
    assert norms.max() <= MAX_STEP * np.sqrt(2) + 1e-4
    assert _at_box_edge(walker) < 0.02 and _at_box_edge(actions) > 0.3  # full-speed steps
    assert share > 0.10 and staying > 0.25  # still crosses the door and stays at walls
    with pytest.raises(ValueError, match="full_step_share"):
        TwoRoomExplorer(full_step_share=1.5)


def _transitions(factory, episodes: int, steps: int):
    """(state before, state after) of every step of ``episodes`` explorer episodes, seeds 0.."""
    env = TwoRoomEnv(obs_mode="state")
    policy = factory(env.observation_space, env.action_space)
    for ep in range(episodes):
        obs, info = env.reset(seed=ep)
        policy.reset(obs, info, np.random.default_rng(ep))
        for _ in range(steps):
            before = obs
            obs, _, _, _, info = env.step(policy.act(obs, info))
            yield before, obs


def _at_door_edge_share(factory, episodes: int = 60, steps: int = 200) -> float:
    """Share of steps spent on the wall face within 2 px of a door edge, or in the opening
    within 1 px of its edge."""
    near = total = 0
    for _, obs in _transitions(factory, episodes, steps):
        x, y, wall_x, door_y = (float(v) for v in obs)
        from_edge = abs(y - door_y) - (DOOR_HALF + 0.5)  # < 0: inside the opening
        on_face = abs(abs(x - wall_x) - (WALL_HALF + 0.5)) < 0.01
        in_opening = abs(x - wall_x) < WALL_HALF + 0.5
        near += (on_face and 0 <= from_edge < 2) or (in_opening and -1 < from_edge < 0)
        total += 1
    return near / total


def test_door_edge_explorer_presses_beside_the_door_far_more_often() -> None:
    base = _at_door_edge_share(make_full_range_explorer)
    edge = _at_door_edge_share(make_door_edge_explorer)
    assert edge > 3 * base and edge > 0.03, (base, edge)
    share, _, staying = _explore(0, 40, 200, make_door_edge_explorer)
    assert share > 0.10 and staying > 0.25  # still crosses the door and stays at walls
    with pytest.raises(ValueError, match="edge_row_share"):
        TwoRoomExplorer(edge_row_share=-0.1)


def _sliding_share(factory, episodes: int = 40, steps: int = 200) -> float:
    """Share of steps within 4 px of the middle wall that move over 1.5 px along it."""
    slides = near = 0
    for before, obs in _transitions(factory, episodes, steps):
        if abs(before[0] - before[2]) < 4:
            near += 1
            slides += abs(obs[1] - before[1]) > 1.5 and abs(obs[0] - before[0]) < 0.5
    return slides / max(near, 1)


def test_wall_follow_explorer_slides_along_the_wall_far_more_often() -> None:
    bouncing = _sliding_share(make_door_edge_explorer)
    following = _sliding_share(make_wall_follow_explorer)
    assert following > 2 * bouncing, (bouncing, following)
    share, _, _ = _explore(0, 40, 200, make_wall_follow_explorer)
    assert share > 0.10  # still crosses the door
    with pytest.raises(ValueError, match="wall_follow_share"):
        TwoRoomExplorer(wall_follow_share=2.0)
    with pytest.raises(ValueError, match="follow_steps"):
        TwoRoomExplorer(follow_steps=0)
