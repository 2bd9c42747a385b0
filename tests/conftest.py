"""Shared fixtures: small datasets built directly with the writer."""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
import pytest
import torch

from forethought.core.spaces import action_field, obs_fields, space_to_json
from forethought.data.episode import Episode
from forethought.data.meta import DatasetMeta
from forethought.data.writer import DatasetWriter

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MUJOCO_GL", "egl")
torch.set_num_threads(1)

OBS_SPACE = gym.spaces.Dict(
    {
        "state": gym.spaces.Box(-10, 10, (3,), np.float32),
        "pixels": gym.spaces.Box(0, 255, (8, 8, 1), np.uint8),
        "mission": gym.spaces.Text(max_length=32),
    }
)
ACTION_SPACE = gym.spaces.Box(-1, 1, (2,), np.float32)


def make_meta(
    obs_space: gym.Space = OBS_SPACE, action_space: gym.Space = ACTION_SPACE
) -> DatasetMeta:
    return DatasetMeta(
        env_id="test/Fake-v0",
        obs_fields=tuple(obs_fields(obs_space)),
        action=action_field(action_space),
        observation_space=space_to_json(obs_space),
        action_space=space_to_json(action_space),
        policy="test",
        seed=0,
    )


def make_episode(index: int, steps: int) -> Episode:
    """An episode whose every value encodes (episode index, row), so mix-ups are visible."""
    rows = steps + 1
    t = np.arange(rows, dtype=np.float32)
    state = np.stack([np.full(rows, index, np.float32), t, t * 0.5], axis=1)
    pixels = np.full((rows, 8, 8, 1), index % 256, np.uint8)
    action = np.stack([t / rows, -t / rows], axis=1).astype(np.float32)
    action[0] = 0
    return Episode(
        obs={"state": state, "pixels": pixels, "mission": np.array([f"go {index}"] * rows)},
        action=action,
        reward=(t * 0.1).astype(np.float32),
        terminated=index % 3 == 0,
        truncated=index % 3 != 0,
        seed=index,
    )


def episode_steps(index: int) -> int:
    return 5 + (index * 7) % 13


@pytest.fixture
def small_dataset(tmp_path):
    """A dataset of 20 episodes of 5..17 steps each."""
    path = tmp_path / "small.h5"
    with DatasetWriter.create(path, make_meta(), initial_steps=16) as w:
        for i in range(20):
            w.append(make_episode(i, episode_steps(i)))
    return path
