from __future__ import annotations

import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from forethought.core.errors import EnvError, MissingExtraError
from forethought.core.spaces import obs_fields, space_from_json, space_to_json, split_obs
from forethought.envs import BUILTIN_ENVS, make_env


@pytest.mark.parametrize("env_id", sorted(BUILTIN_ENVS))
@pytest.mark.parametrize("obs", ["state", "pixels", "both"])
def test_builtin_envs_pass_gymnasiums_checker(env_id, obs):
    env = make_env(env_id, obs=obs)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


def test_unknown_env_id_suggests_close_matches():
    with pytest.raises(EnvError, match="did you mean Pendulum-v1"):
        make_env("Pendulum-v9")
    with pytest.raises(EnvError, match="forethought/TwoRoom-v0"):
        make_env("forethought/TwoRom-v0")


def test_unknown_obs_mode():
    with pytest.raises(EnvError, match="choose one of state, pixels, both"):
        make_env("Pendulum-v1", obs="depth")


def test_missing_extra_names_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "minigrid", None)  # as if it were not installed
    for key in [k for k in gym.registry if k.startswith("BabyAI-")]:
        monkeypatch.delitem(gym.registry, key)
    with pytest.raises(MissingExtraError, match=r"pip install 'forethought\[minigrid\]'"):
        make_env("BabyAI-GoToRedBall-v0")


def test_pixels_from_a_classic_control_env():
    env = make_env("Pendulum-v1", obs="both", image_size=32)
    obs, _ = env.reset(seed=0)
    assert obs["pixels"].shape == (32, 32, 3) and obs["pixels"].dtype == np.uint8
    assert obs["pixels"].std() > 0  # something was drawn
    assert [f.key for f in obs_fields(env.observation_space)] == ["pixels", "state"]
    env.close()


def test_pixels_from_headless_mujoco():
    env = make_env("HalfCheetah-v5", obs="pixels", image_size=48)
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(env.action_space.sample())
    assert obs.shape == (48, 48, 3) and obs.std() > 0
    assert env.unwrapped.mujoco_renderer.camera_id == 0  # the "track" camera follows the body
    env.close()


def test_babyai_dict_obs_with_text_mission():
    env = make_env("BabyAI-GoToRedBall-v0")
    fields = {f.key: f for f in obs_fields(env.observation_space)}
    assert fields["mission"].is_text and fields["image"].is_image
    obs, _ = env.reset(seed=1)
    assert "red ball" in split_obs(env.observation_space, obs)["mission"]
    env.close()


def test_goal_env_dict_keys_are_flat():
    space = gym.spaces.Dict(
        {
            "observation": gym.spaces.Box(-1, 1, (4,)),
            "achieved_goal": gym.spaces.Box(-1, 1, (2,)),
            "desired_goal": gym.spaces.Box(-1, 1, (2,)),
            "extra": gym.spaces.Dict({"speed": gym.spaces.Box(0, 1, (1,))}),
        }
    )
    keys = [f.key for f in obs_fields(space)]
    assert keys == ["achieved_goal", "desired_goal", "extra/speed", "observation"]
    sample = space.sample()
    assert set(split_obs(space, sample)) == set(keys)


@pytest.mark.parametrize(
    "space",
    [
        gym.spaces.Box(-np.inf, np.inf, (3,), np.float32),
        gym.spaces.Box(np.array([0, -1]), np.array([1, 2]), dtype=np.float32),
        gym.spaces.Box(0, 255, (4, 4, 3), np.uint8),
        gym.spaces.Discrete(5, start=1),
        gym.spaces.MultiDiscrete([3, 4]),
        gym.spaces.Dict({"a": gym.spaces.Discrete(2), "b": gym.spaces.Text(max_length=12)}),
    ],
)
def test_space_json_round_trip(space):
    again = space_from_json(space_to_json(space))
    assert type(again) is type(space)
    if isinstance(space, gym.spaces.Box):
        assert again == space
    assert space_to_json(again) == space_to_json(space)
