"""Reading a dataset file: metadata, the episode index, and per-key arrays."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from types import TracebackType

import h5py
import numpy as np

from forethought.core.errors import DatasetError
from forethought.data.episode import Episode
from forethought.data.meta import DatasetMeta
from forethought.data.store import read_commit


def open_h5(path: str | Path, mode: str = "r") -> h5py.File:
    """Open an HDF5 file, turning the library's errors into one clear line."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(
            f"{path}: no such file (collect one with: forethought collect ENV_ID --out {path})"
        )
    if path.is_dir():
        raise DatasetError(f"{path} is a directory; give the dataset's .h5 file")
    try:
        f = h5py.File(path, mode)
    except OSError as e:
        msg = str(e).lower()
        if "lock" in msg:
            raise DatasetError(f"{path} is open for writing by another process") from e
        raise DatasetError(
            f"{path}: cannot read it as HDF5 (corrupt or truncated file?): {e}"
        ) from e
    if "metadata" not in f.attrs or "commit" not in f:
        f.close()
        raise DatasetError(
            f"{path}: not a forethought dataset (no metadata); import other formats with "
            "'forethought data import'"
        )
    return f


class Dataset:
    """Read-only view of a dataset file. Only committed (finished) episodes are visible.

    Arrays are read lazily from disk: ``read(key, lo, hi)`` for a slice of rows, ``load(key)`` for
    all rows. Keys are ``obs/<name>``, ``action``, ``reward``, ``is_first``, ``terminated``,
    ``truncated`` and ``episode``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file = open_h5(self.path)
        self.meta = DatasetMeta.from_json(self._file.attrs["metadata"], where=str(self.path))
        self.n_episodes, self.n_steps = read_commit(self._file)
        try:
            index = self._file["episodes"]
            self.episode_starts = index["start"][: self.n_episodes].astype(np.int64)
            self.episode_lengths = index["length"][: self.n_episodes].astype(np.int64)
            self.episode_seeds = index["seed"][: self.n_episodes].astype(np.int64)
        except (KeyError, OSError) as e:
            self.close()
            raise DatasetError(f"{self.path}: episode index is unreadable ({e})") from e

    @property
    def keys(self) -> tuple[str, ...]:
        """Every per-step array in the file."""
        obs = tuple(f"obs/{k}" for k in self.meta.obs_keys)
        return (*obs, "action", "reward", "is_first", "terminated", "truncated", "episode")

    def _array(self, key: str) -> h5py.Dataset:
        if key not in self.keys:
            hint = ""
            if key.startswith("obs/"):
                hint = f" (was it collected with --obs {key[4:]}?)"
            raise DatasetError(
                f"{self.path}: key '{key}' missing{hint}; the file has {list(self.keys)}"
            )
        return self._file[f"steps/{key}"]

    def read(self, key: str, lo: int, hi: int) -> np.ndarray:
        """Rows ``lo:hi`` of one key, clipped to the committed rows."""
        hi = min(hi, self.n_steps)
        try:
            return self._array(key)[lo:hi]
        except OSError as e:
            raise DatasetError(f"{self.path}: cannot read key '{key}' rows {lo}:{hi} ({e})") from e

    def load(self, key: str) -> np.ndarray:
        """All committed rows of one key."""
        return self.read(key, 0, self.n_steps)

    def field_shape(self, key: str) -> tuple[int, ...]:
        return tuple(self._array(key).shape[1:])

    def field_dtype(self, key: str) -> np.dtype:
        return self._array(key).dtype

    def episode(self, i: int) -> Episode:
        """One whole episode."""
        if not -self.n_episodes <= i < self.n_episodes:
            raise DatasetError(f"{self.path}: episode {i} out of range (has {self.n_episodes})")
        i %= self.n_episodes
        lo = int(self.episode_starts[i])
        hi = lo + int(self.episode_lengths[i])
        return Episode(
            obs={k: self.read(f"obs/{k}", lo, hi) for k in self.meta.obs_keys},
            action=self.read("action", lo, hi),
            reward=self.read("reward", lo, hi),
            terminated=bool(self.read("terminated", hi - 1, hi)[0]),
            truncated=bool(self.read("truncated", hi - 1, hi)[0]),
            seed=int(self.episode_seeds[i]),
        )

    def fingerprint(self) -> str:
        """A short hash of the metadata (less its creation time), index, actions and rewards."""
        h = hashlib.sha256(dataclasses.replace(self.meta, created="").to_json().encode())
        for arr in (
            self.episode_starts,
            self.episode_lengths,
            self.load("action"),
            self.load("reward"),
        ):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()[:16]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None  # type: ignore[assignment]

    def __enter__(self) -> Dataset:
        return self

    def __exit__(
        self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __len__(self) -> int:
        return self.n_episodes

    def __repr__(self) -> str:
        return (
            f"Dataset({str(self.path)!r}, env={self.meta.env_id}, episodes={self.n_episodes}, "
            f"steps={self.n_steps}, keys={list(self.meta.obs_keys)})"
        )
