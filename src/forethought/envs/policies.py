"""Collection policies: the small protocol the collection loop drives, and how to find one.

A policy acts in one (unbatched) env. ``--policy MODULE:CALLABLE`` names a factory called as
``CALLABLE(observation_space, action_space)`` once per worker process; the loop then calls
``reset(obs, info, rng)`` at the start of every episode and ``act(obs, info)`` at every step.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from forethought.core.errors import ForethoughtError

# The recommended collection policy for built-in envs ("auto" picks it, else random).
DEFAULT_POLICIES = {"forethought/TwoRoom-v0": "forethought.envs.exploration:make_explorer"}


class Policy(Protocol):
    def reset(self, obs: Any, info: dict[str, Any], rng: np.random.Generator) -> None: ...

    def act(self, obs: Any, info: dict[str, Any]) -> Any: ...


class PolicyFactory(Protocol):
    def __call__(self, observation_space: gym.Space, action_space: gym.Space) -> Policy: ...


class RandomPolicy:
    """Uniform random actions drawn from the action space with the episode's generator."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        self.action_space = action_space
        self._rng = np.random.default_rng(0)

    def reset(self, obs: Any, info: dict[str, Any], rng: np.random.Generator) -> None:
        self._rng = rng

    def act(self, obs: Any, info: dict[str, Any]) -> Any:
        space = self.action_space
        if isinstance(space, gym.spaces.Discrete):
            return int(space.start + self._rng.integers(space.n))
        if isinstance(space, gym.spaces.Box):
            low = np.where(np.isfinite(space.low), space.low, -1.0)
            high = np.where(np.isfinite(space.high), space.high, 1.0)
            return self._rng.uniform(low, high).astype(space.dtype)
        if isinstance(space, gym.spaces.MultiDiscrete):
            return (self._rng.random(space.nvec.shape) * space.nvec).astype(np.int64)
        raise ForethoughtError(f"random policy cannot sample action space {space!r}")


def resolve_policy(name: str, env_id: str) -> tuple[str, PolicyFactory]:
    """``random``, ``auto`` or ``MODULE:CALLABLE`` -> (resolved name, factory)."""
    if name == "auto":
        name = DEFAULT_POLICIES.get(env_id, "random")
    if name == "random":
        return name, RandomPolicy
    module_name, sep, attr = name.partition(":")
    if not sep or not module_name or not attr:
        raise ForethoughtError(
            f"--policy '{name}' is not 'random', 'auto' or MODULE:CALLABLE (e.g. mypkg.pol:make)"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ForethoughtError(f"--policy: cannot import module '{module_name}' ({e})") from e
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ForethoughtError(f"--policy: '{module_name}' has no callable '{attr}'")
    return name, factory
