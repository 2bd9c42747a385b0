"""``make_env``: any registered Gymnasium id, with an observation mode and clear errors."""

from __future__ import annotations

import difflib
import importlib
import os
from typing import Any

import gymnasium as gym

from forethought.core.errors import EnvError, MissingExtraError
from forethought.envs.pixels import PixelObservation, prepare_mujoco_rendering

OBS_MODES = ("state", "pixels", "both")
# Envs that draw their own pixels and take ``obs_mode`` directly.
NATIVE_OBS_MODE = {"forethought/TwoRoom-v0"}
# Id prefixes that live in an optional package which registers them on import.
PLUGIN_PREFIXES = {"BabyAI-": ("minigrid", "minigrid"), "MiniGrid-": ("minigrid", "minigrid")}
# Modules whose absence means a known extra is missing.
EXTRA_FOR_MODULE = {"mujoco": "mujoco", "minigrid": "minigrid", "pygame": "classic"}


def _register_plugins(env_id: str) -> None:
    for prefix, (module, extra) in PLUGIN_PREFIXES.items():
        if env_id.startswith(prefix):
            try:
                importlib.import_module(module)
            except ImportError as e:
                raise MissingExtraError(module, extra, env_id) from e


def check_env_id(env_id: str) -> None:
    """Raise a helpful :class:`EnvError` when ``env_id`` is not registered."""
    import forethought.envs  # noqa: F401  (registers the built-in envs)

    _register_plugins(env_id)
    if env_id in gym.registry:
        return
    close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise EnvError(
        f"unknown env id '{env_id}'{hint} (built-ins: forethought envs; any registered "
        "Gymnasium id works)"
    )


def make_env(
    env_id: str,
    obs: str = "state",
    image_size: int = 64,
    max_steps: int | None = None,
    **kwargs: Any,
) -> gym.Env:
    """Make a Gymnasium env whose observations follow ``obs`` (state, pixels or both).

    Args:
        env_id: any registered Gymnasium id (``forethought/TwoRoom-v0``, ``Pendulum-v1``, ...).
        obs: ``state`` (the env's own observation), ``pixels`` (rendered frames only) or
            ``both`` (a Dict of the env's observation keys plus ``pixels``).
        image_size: side of the square rendered frame for ``pixels``/``both``.
        max_steps: episode time limit (the env's default when ``None``).
        **kwargs: passed to ``gymnasium.make``.
    """
    if obs not in OBS_MODES:
        raise EnvError(f"unknown --obs '{obs}'; choose one of {', '.join(OBS_MODES)}")
    check_env_id(env_id)
    os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame-rendered envs: no display
    make_kwargs = dict(kwargs)
    if max_steps is not None:
        make_kwargs["max_episode_steps"] = max_steps
    native = env_id in NATIVE_OBS_MODE
    if native:
        make_kwargs["obs_mode"] = obs
    elif obs != "state":
        make_kwargs["render_mode"] = "rgb_array"
        if _is_mujoco(env_id):
            make_kwargs.setdefault("width", image_size)
            make_kwargs.setdefault("height", image_size)
    env = _make(env_id, make_kwargs)
    if native or obs == "state":
        return env
    prepare_mujoco_rendering(env)
    try:
        return PixelObservation(env, size=image_size, keep_state=obs == "both")
    except (gym.error.Error, TypeError, ValueError) as e:
        env.close()
        raise EnvError(f"{env_id} cannot render frames for --obs {obs}: {e}") from e


def _is_mujoco(env_id: str) -> bool:
    entry = str(gym.registry[env_id].entry_point)
    return "mujoco" in entry


def _make(env_id: str, kwargs: dict[str, Any]) -> gym.Env:
    try:
        return gym.make(env_id, **kwargs)
    except gym.error.DependencyNotInstalled as e:
        module = next((m for m in EXTRA_FOR_MODULE if m in str(e).lower()), None)
        if module:
            raise MissingExtraError(module, EXTRA_FOR_MODULE[module], env_id) from e
        raise EnvError(f"{env_id} needs a package that is not installed: {e}") from e
    except ImportError as e:
        name = (e.name or "").split(".")[0]
        if name in EXTRA_FOR_MODULE:
            raise MissingExtraError(name, EXTRA_FOR_MODULE[name], env_id) from e
        raise EnvError(f"{env_id} could not be imported: {e}") from e
    except TypeError as e:
        raise EnvError(f"{env_id} does not accept these options ({e})") from e
