"""``check_dataset``: validate a dataset file and name what is wrong with it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

from forethought.core.errors import DatasetError
from forethought.core.spaces import space_from_json
from forethought.data.reader import Dataset
from forethought.data.store import row_blocks


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset: where (a key, or ``file``/``index``) and what."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def check_dataset(path: str | Path) -> list[Problem]:
    """Every problem found in the dataset at ``path`` (an empty list means it is sound).

    Checks that the file opens and its metadata parses, that the episode index tiles the rows
    exactly, that the per-step flags agree with it, that every key has the shape and dtype its
    metadata declares, that float arrays hold no NaN/inf, and that actions lie in the action space.
    """
    try:
        ds = Dataset(path)
    except DatasetError as e:
        return [Problem("file", str(e))]
    with ds:
        problems = _check_index(ds)
        if problems:
            return problems  # per-step checks assume a sound index
        for key in ds.keys:
            problems.extend(_check_key(ds, key))
        problems.extend(_check_actions(ds))
    return problems


def _check_index(ds: Dataset) -> list[Problem]:
    out: list[Problem] = []
    starts, lengths = ds.episode_starts, ds.episode_lengths
    if ds.n_episodes == 0:
        return [Problem("index", "the dataset holds no episodes")]
    if (lengths < 1).any():
        out.append(Problem("index", f"episode {int(np.argmax(lengths < 1))} has no rows"))
    expected = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    if not np.array_equal(starts, expected):
        bad = int(np.argmax(starts != expected))
        out.append(
            Problem("index", f"episode {bad} starts at row {starts[bad]}, not {expected[bad]}")
        )
    if int(lengths.sum()) != ds.n_steps:
        out.append(
            Problem("index", f"episodes cover {lengths.sum()} rows, the file commits {ds.n_steps}")
        )
    if out:
        return out
    first = ds.load("is_first")
    want = np.zeros(ds.n_steps, dtype=bool)
    want[starts] = True
    if not np.array_equal(first, want):
        out.append(
            Problem(
                "is_first",
                f"disagrees with the episode index at row {int(np.argmax(first != want))}",
            )
        )
    episode = ds.load("episode")
    if not np.array_equal(episode, np.repeat(np.arange(ds.n_episodes), lengths)):
        out.append(Problem("episode", "per-row episode numbers disagree with the episode index"))
    ends = np.zeros(ds.n_steps, dtype=bool)
    ends[starts + lengths - 1] = True
    for key in ("terminated", "truncated"):
        flag = ds.load(key)
        if (flag & ~ends).any():
            out.append(
                Problem(
                    key, f"set in the middle of an episode at row {int(np.argmax(flag & ~ends))}"
                )
            )
    return out


def _check_key(ds: Dataset, key: str) -> list[Problem]:
    out: list[Problem] = []
    if key.startswith("obs/"):
        spec = ds.meta.field_for(key[4:])
        if ds.field_shape(key) != spec.shape:
            out.append(Problem(key, f"shape {ds.field_shape(key)} but metadata says {spec.shape}"))
        if ds.field_dtype(key) != np.dtype(spec.dtype):
            out.append(Problem(key, f"dtype {ds.field_dtype(key)} but metadata says {spec.dtype}"))
    dtype = ds.field_dtype(key)
    if dtype.kind != "f":
        return out
    row_bytes = dtype.itemsize * int(np.prod(ds.field_shape(key)))
    for lo, hi in row_blocks(ds.n_steps, row_bytes):
        block = ds.read(key, lo, hi)
        bad = ~np.isfinite(block.reshape(hi - lo, -1)).all(axis=1)
        if bad.any():
            row = lo + int(np.argmax(bad))
            ep = int(np.searchsorted(ds.episode_starts, row, side="right") - 1)
            out.append(Problem(key, f"NaN/inf at row {row} (episode {ep})"))
            break
    return out


def _check_actions(ds: Dataset) -> list[Problem]:
    space = space_from_json(ds.meta.action_space)
    actions = ds.load("action")
    acted = ~ds.load("is_first")  # first rows hold a placeholder zero action
    if not acted.any():
        return []
    a = actions[acted]
    if isinstance(space, gym.spaces.Box):
        tol = 1e-5 * np.maximum(1.0, np.abs(space.high - space.low))
        outside = ((a < space.low - tol) | (a > space.high + tol)).reshape(len(a), -1).any(axis=1)
    elif isinstance(space, gym.spaces.Discrete):
        outside = (a < space.start) | (a >= space.start + space.n)
    else:
        return []
    if outside.any():
        return [Problem("action", f"{int(outside.sum())} actions outside the action space {space}")]
    return []
