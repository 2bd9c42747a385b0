"""Gymnasium spaces <-> JSON, and the flat field layout forethought stores observations in.

A dataset stores every observation as flat per-key arrays. ``obs_fields`` turns an observation
space into that layout (one :class:`FieldSpec` per key) and ``split_obs`` turns one observation
into a ``{key: array}`` dict. Dict spaces are flattened with ``/`` joins; a bare Box is called
``pixels`` when it looks like an image (uint8, 3 dims) and ``state`` otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from forethought.core.errors import EnvError

TEXT_BYTES_DEFAULT = 256


@dataclass(frozen=True)
class FieldSpec:
    """One stored per-step array: its key, per-step shape and numpy dtype string."""

    key: str
    shape: tuple[int, ...]
    dtype: str  # numpy dtype string, e.g. "float32", "uint8", "|S256" for text

    @property
    def is_text(self) -> bool:
        return np.dtype(self.dtype).kind == "S"

    @property
    def is_image(self) -> bool:
        return np.dtype(self.dtype) == np.uint8 and len(self.shape) == 3

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "shape": list(self.shape), "dtype": self.dtype}

    @staticmethod
    def from_json(d: dict[str, Any]) -> FieldSpec:
        return FieldSpec(
            key=str(d["key"]), shape=tuple(int(s) for s in d["shape"]), dtype=d["dtype"]
        )


def _is_text_space(space: gym.Space) -> bool:
    return isinstance(space, gym.spaces.Text) or isinstance(space.sample(), str)


def _leaf_field(key: str, space: gym.Space) -> FieldSpec:
    if isinstance(space, gym.spaces.Box):
        return FieldSpec(key, tuple(space.shape), np.dtype(space.dtype).name)
    if isinstance(space, gym.spaces.Discrete):
        return FieldSpec(key, (), "int64")
    if isinstance(space, gym.spaces.MultiDiscrete):
        return FieldSpec(key, tuple(space.shape), "int64")
    if isinstance(space, gym.spaces.MultiBinary):
        return FieldSpec(key, tuple(np.atleast_1d(space.n)), "int8")
    if _is_text_space(space):
        size = int(getattr(space, "max_length", 0) or TEXT_BYTES_DEFAULT)
        return FieldSpec(key, (), f"|S{size}")  # UTF-8 bytes, fixed width
    raise EnvError(
        f"observation key '{key}' has space {space!r}, which forethought cannot store yet "
        "(supported: Box, Discrete, MultiDiscrete, MultiBinary, Text, Dict of those)"
    )


def _bare_key(space: gym.spaces.Box | gym.Space) -> str:
    if isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3:
        return "pixels"
    return "state"


def obs_fields(space: gym.Space) -> list[FieldSpec]:
    """The stored fields for an observation space (Dict flattened with ``/`` joins)."""
    if isinstance(space, gym.spaces.Dict):
        out: list[FieldSpec] = []
        for name, sub in space.spaces.items():
            if isinstance(sub, gym.spaces.Dict):
                out.extend(FieldSpec(f"{name}/{f.key}", f.shape, f.dtype) for f in obs_fields(sub))
            else:
                out.append(_leaf_field(name, sub))
        return out
    if isinstance(space, gym.spaces.Tuple):
        raise EnvError("Tuple observation spaces are not supported; wrap the env to return a Dict")
    return [_leaf_field(_bare_key(space), space)]


def split_obs(space: gym.Space, obs: Any) -> dict[str, Any]:
    """One observation as ``{key: value}`` following :func:`obs_fields`."""
    if isinstance(space, gym.spaces.Dict):
        out: dict[str, Any] = {}
        for name, sub in space.spaces.items():
            if isinstance(sub, gym.spaces.Dict):
                out.update({f"{name}/{k}": v for k, v in split_obs(sub, obs[name]).items()})
            else:
                out[name] = obs[name]
        return out
    return {_bare_key(space): obs}


def action_field(space: gym.Space) -> FieldSpec:
    """The stored field for an action space: Box -> float32 vector, Discrete -> int64 scalar."""
    if isinstance(space, gym.spaces.Box):
        return FieldSpec("action", tuple(space.shape), "float32")
    if isinstance(space, gym.spaces.Discrete):
        return FieldSpec("action", (), "int64")
    if isinstance(space, gym.spaces.MultiDiscrete):
        return FieldSpec("action", tuple(space.shape), "int64")
    raise EnvError(
        f"action space {space!r} is not supported (use Box, Discrete or MultiDiscrete actions)"
    )


# ---------------------------------------------------------------- JSON (de)serialization


def space_to_json(space: gym.Space) -> dict[str, Any]:
    """A JSON-able description of a space, enough to rebuild it with :func:`space_from_json`."""
    if isinstance(space, gym.spaces.Box):
        return {
            "type": "Box",
            "shape": list(space.shape),
            "dtype": np.dtype(space.dtype).name,
            "low": _compact(space.low),
            "high": _compact(space.high),
        }
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, gym.spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": space.nvec.tolist()}
    if isinstance(space, gym.spaces.MultiBinary):
        return {"type": "MultiBinary", "n": np.atleast_1d(space.n).tolist()}
    if isinstance(space, gym.spaces.Dict):
        return {"type": "Dict", "spaces": {k: space_to_json(v) for k, v in space.spaces.items()}}
    if _is_text_space(space):
        return {
            "type": "Text",
            "max_length": int(getattr(space, "max_length", TEXT_BYTES_DEFAULT)),
            "min_length": int(getattr(space, "min_length", 0)),
        }
    raise EnvError(f"cannot describe space {space!r} as JSON")


def space_from_json(d: dict[str, Any]) -> gym.Space:
    """Rebuild a space written by :func:`space_to_json`."""
    kind = d.get("type")
    if kind == "Box":
        shape = tuple(d["shape"])
        dtype = np.dtype(d["dtype"])
        low = _expand(d["low"], shape).astype(dtype)
        high = _expand(d["high"], shape).astype(dtype)
        return gym.spaces.Box(low=low, high=high, shape=shape, dtype=dtype)
    if kind == "Discrete":
        return gym.spaces.Discrete(int(d["n"]), start=int(d.get("start", 0)))
    if kind == "MultiDiscrete":
        return gym.spaces.MultiDiscrete(d["nvec"])
    if kind == "MultiBinary":
        n = d["n"]
        return gym.spaces.MultiBinary(n[0] if len(n) == 1 else n)
    if kind == "Dict":
        return gym.spaces.Dict({k: space_from_json(v) for k, v in d["spaces"].items()})
    if kind == "Text":
        return gym.spaces.Text(max_length=int(d["max_length"]), min_length=int(d["min_length"]))
    raise EnvError(f"unknown space description {json.dumps(d)[:80]}")


def _compact(a: np.ndarray) -> Any:
    """A scalar when every entry is equal, else a nested list; infinities as strings."""
    flat = np.asarray(a, dtype=np.float64).ravel()
    if flat.size and np.all(flat == flat[0]):
        return _num(flat[0])
    return [_num(x) for x in flat]


def _num(x: float) -> float | str:
    return str(x) if not np.isfinite(x) else float(x)


def _expand(v: Any, shape: tuple[int, ...]) -> np.ndarray:
    if isinstance(v, list):
        return np.array([float(x) for x in v], dtype=np.float64).reshape(shape)
    return np.full(shape, float(v), dtype=np.float64)
