"""Environments: built-in envs, the env factory with observation modes, collection policies.

Importing this package registers forethought's built-in Gymnasium envs.
"""

from __future__ import annotations

import gymnasium as gym

BUILTIN_ENVS: dict[str, str] = {
    "forethought/TwoRoom-v0": (
        "65x65 top-down point agent in two rooms joined by a door (the PLDM / EB-JEPA / DINO-WM "
        "Wall task); obs state|pixels|both; 2-D displacement actions"
    ),
}

if "forethought/TwoRoom-v0" not in gym.registry:
    gym.register(
        id="forethought/TwoRoom-v0",
        entry_point="forethought.envs.two_room:TwoRoomEnv",
        max_episode_steps=200,
    )

from forethought.envs.factory import make_env  # noqa: E402

__all__ = ["BUILTIN_ENVS", "make_env"]
