"""What a model needs to know about its data: observation keys, shapes, action space, scales.

A :class:`DataSpec` is derived from a dataset's metadata (``DataSpec.from_meta``) or, with
normalization statistics for vector observations, from an open dataset (``DataSpec.from_dataset``).
It is plain data (JSON round trip), so a checkpoint can rebuild the exact model it was trained as.
Both constructors take their argument structurally (anything with the same attributes), which keeps
``models`` independent of ``data``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from forethought.core.errors import ForethoughtError
from forethought.core.spaces import FieldSpec, space_from_json


class _MetaLike(Protocol):
    obs_fields: tuple[FieldSpec, ...]
    action: FieldSpec
    action_space: dict[str, Any]


class RowSource(Protocol):
    """Rows of a dataset by key: a ``Dataset``, or a ``WindowSampler`` that holds them."""

    @property
    def n_steps(self) -> int: ...

    def read(self, key: str, lo: int, hi: int) -> np.ndarray: ...


class _DatasetLike(RowSource, Protocol):
    meta: _MetaLike


@dataclass(frozen=True)
class ObsSpec:
    """One observation key as the model sees it."""

    key: str
    shape: tuple[int, ...]
    dtype: str  # numpy dtype string
    mean: tuple[float, ...] | None = None  # per flattened entry (vector keys), None = 0
    std: tuple[float, ...] | None = None  # per flattened entry (vector keys), None = 1

    @property
    def is_image(self) -> bool:
        return np.dtype(self.dtype) == np.uint8 and len(self.shape) == 3

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass(frozen=True)
class DataSpec:
    """Observation keys and the action space a model is built for.

    Attributes:
        obs: the usable (non-text) observation keys.
        action_dim: A: the continuous action size, or the number of discrete actions.
        discrete: True for a ``Discrete`` action space (actions are int64 indices).
        action_low / action_high: Box bounds (finite ones rescale actions to [-1, 1]).
    """

    obs: tuple[ObsSpec, ...]
    action_dim: int
    discrete: bool = False
    action_low: tuple[float, ...] | None = None
    action_high: tuple[float, ...] | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(o.key for o in self.obs)

    def get(self, key: str) -> ObsSpec:
        for o in self.obs:
            if o.key == key:
                return o
        raise KeyError(key)

    def select(self, keys: tuple[str, ...] | None, model: str = "model") -> tuple[ObsSpec, ...]:
        """The specs of ``keys`` (all keys when None), or a clear error naming what is missing."""
        if keys is None:
            if not self.obs:
                raise ForethoughtError(
                    f"{model}: the dataset has no observation a model can read (text keys are "
                    "skipped); collect with --obs state, pixels or both"
                )
            return self.obs
        missing = [k for k in keys if k not in self.keys]
        if missing:
            raise ForethoughtError(
                f"{model}: the dataset has no observation key(s) {missing}; it has "
                f"{list(self.keys)} (collect with the matching --obs, or set obs_keys)"
            )
        return tuple(self.get(k) for k in keys)

    # ------------------------------------------------------------------ constructors

    @staticmethod
    def from_meta(meta: _MetaLike) -> DataSpec:
        """The spec of a dataset from its metadata (no normalization statistics)."""
        obs = tuple(
            ObsSpec(f.key, tuple(f.shape), f.dtype) for f in meta.obs_fields if not f.is_text
        )
        space = meta.action_space
        kind = space.get("type")
        if kind == "Discrete":
            return DataSpec(obs=obs, action_dim=int(space["n"]), discrete=True)
        if kind == "Box" and len(meta.action.shape) == 1:
            box = space_from_json(space)
            low = np.asarray(box.low, np.float64).ravel()
            high = np.asarray(box.high, np.float64).ravel()
            bounded = bool(
                np.isfinite(low).all() and np.isfinite(high).all() and (high > low).all()
            )
            return DataSpec(  # unbounded boxes are fed to the model unscaled
                obs=obs,
                action_dim=int(meta.action.shape[0]),
                action_low=_floats(low) if bounded else None,
                action_high=_floats(high) if bounded else None,
            )
        raise ForethoughtError(
            f"world models take Box actions of shape (A,) or Discrete actions; this dataset has "
            f"{kind} actions of shape {tuple(meta.action.shape)} (wrap the env to flatten them)"
        )

    @staticmethod
    def from_dataset(dataset: _DatasetLike, max_rows: int = 200_000) -> DataSpec:
        """Like :meth:`from_meta`, plus per-entry mean/std of every vector observation key."""
        spec = DataSpec.from_meta(dataset.meta)
        rows = min(int(dataset.n_steps), max_rows)
        obs = []
        for o in spec.obs:
            if o.is_image or rows == 0:
                obs.append(o)
                continue
            x = dataset.read(f"obs/{o.key}", 0, rows).reshape(rows, -1).astype(np.float64)
            std = x.std(0)
            std = np.where(std > 1e-6, std, 1.0)  # constant entries are left unscaled
            obs.append(ObsSpec(o.key, o.shape, o.dtype, _floats(x.mean(0)), _floats(std)))
        return DataSpec(
            tuple(obs), spec.action_dim, spec.discrete, spec.action_low, spec.action_high
        )

    # ------------------------------------------------------------------ JSON

    def to_json(self) -> str:
        d = {
            "obs": [
                {
                    "key": o.key,
                    "shape": list(o.shape),
                    "dtype": o.dtype,
                    "mean": o.mean,
                    "std": o.std,
                }
                for o in self.obs
            ],
            "action_dim": self.action_dim,
            "discrete": self.discrete,
            "action_low": self.action_low,
            "action_high": self.action_high,
        }
        return json.dumps(d, sort_keys=True, allow_nan=False)

    @staticmethod
    def from_json(text: str) -> DataSpec:
        d = json.loads(text)

        def tup(v: Any) -> tuple[float, ...] | None:
            return None if v is None else tuple(float(x) for x in v)

        obs = tuple(
            ObsSpec(o["key"], tuple(o["shape"]), o["dtype"], tup(o["mean"]), tup(o["std"]))
            for o in d["obs"]
        )
        return DataSpec(
            obs,
            int(d["action_dim"]),
            bool(d["discrete"]),
            tup(d["action_low"]),
            tup(d["action_high"]),
        )


def _floats(a: np.ndarray) -> tuple[float, ...]:
    return tuple(float(x) for x in a)


def register_action_bounds(module: nn.Module, spec: DataSpec) -> None:
    """Keep a bounded Box's limits on ``module`` as buffers ``action_low`` / ``action_high``
    (saved with its weights), so :func:`action_bounds` finds them."""
    if not spec.discrete and spec.action_low is not None and spec.action_high is not None:
        module.register_buffer("action_low", torch.tensor(spec.action_low, dtype=torch.float32))
        module.register_buffer("action_high", torch.tensor(spec.action_high, dtype=torch.float32))


def action_bounds(module: nn.Module) -> tuple[Tensor, Tensor] | None:
    """The (low, high) buffers :func:`register_action_bounds` kept, or None (no scaling)."""
    low, high = getattr(module, "action_low", None), getattr(module, "action_high", None)
    return None if low is None or high is None else (low, high)


def encode_action(
    spec: DataSpec, action: Tensor, lead: int, bounds: tuple[Tensor, Tensor] | None
) -> Tensor:
    """Actions as predictors take them: one-hot (discrete) or scaled to [-1, 1] by ``bounds``.

    Args:
        spec: the data's action space.
        action: (*L, A) float, or (*L,) int64 indices / (*L, n) float one-hot for discrete.
        lead: number of leading dims L, to tell indices from one-hot vectors.
        bounds: (low, high) of a Box, or None to pass float actions through unscaled.
    """
    n = spec.action_dim
    if spec.discrete:
        if action.dim() == lead + 1 and action.is_floating_point() and action.shape[-1] == n:
            return action
        if action.dim() != lead:
            raise ValueError(
                f"discrete actions must be {lead}-D indices, got {tuple(action.shape)}"
            )
        return F.one_hot(action.long().clamp(0, n - 1), n).float()
    if action.dim() != lead + 1 or action.shape[-1] != n:
        raise ValueError(f"actions must have shape (..., {n}), got {tuple(action.shape)}")
    action = action.float()
    if bounds is not None:
        low, high = bounds
        action = 2.0 * (action - low) / (high - low) - 1.0
    return action
