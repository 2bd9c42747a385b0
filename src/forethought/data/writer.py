"""Appending episodes to a dataset file, crash-safely (see ``store.py`` for how)."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import h5py
import numpy as np

from forethought.core.errors import DatasetError
from forethought.core.spaces import FieldSpec
from forethought.data import store
from forethought.data.episode import Episode
from forethought.data.meta import DatasetMeta
from forethought.data.reader import open_h5


class DatasetWriter:
    """Appends whole episodes to one dataset file.

    Use :meth:`create` for a new file and :meth:`append_to` to resume into an existing one. Every
    ``append`` is durable against the process being killed once it returns; ``close`` shrinks the
    file to its exact size.
    """

    def __init__(self, path: Path, meta: DatasetMeta, initial_steps: int = 4096) -> None:
        self.path = Path(path)
        self.meta = meta
        self._initial_steps = initial_steps
        self._file: h5py.File | None = None
        self._open()

    # ----------------------------------------------------------------- construction

    @classmethod
    def create(
        cls, path: str | Path, meta: DatasetMeta, overwrite: bool = False, initial_steps: int = 4096
    ) -> DatasetWriter:
        """A writer for a new dataset file (refuses to replace an existing one unless asked)."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise DatasetError(
                f"{path} already exists; pass --resume to append to it or choose another --out"
            )
        if not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        tmp = store.temp_path_for(path)
        store.create_file(tmp, meta, initial_steps, max(initial_steps // 64, 16))
        tmp.replace(path)
        return cls(path, meta, initial_steps)

    @classmethod
    def append_to(cls, path: str | Path, meta: DatasetMeta | None = None) -> DatasetWriter:
        """A writer that resumes an existing dataset; ``meta`` (if given) must match its layout."""
        path = Path(path)
        for leftover in store.stale_temp_files(path):
            leftover.unlink(missing_ok=True)
        with open_h5(path) as f:
            existing = DatasetMeta.from_json(f.attrs["metadata"], where=str(path))
        if meta is not None and not existing.same_layout(meta):
            raise DatasetError(
                f"{path}: cannot append: the file holds {existing.env_id} with keys "
                f"{list(existing.obs_keys)} and action {existing.action.shape}, but the new data "
                f"is {meta.env_id} with keys {list(meta.obs_keys)} and action {meta.action.shape}; "
                "write to a new --out file"
            )
        with open_h5(path) as f:
            appendable = store.is_appendable(f)
            episodes, steps = store.read_commit(f)
        if not appendable:  # a finished (compressed) file: back to the preallocated layout
            store.rewrite(path, max(steps * 2, 4096), max(episodes * 2, 64))
        return cls(path, existing)

    def _open(self) -> None:
        try:
            self._file = h5py.File(self.path, "r+")
        except OSError as e:
            if "lock" in str(e).lower():
                raise DatasetError(f"{self.path} is open for writing by another process") from e
            raise DatasetError(f"cannot open {self.path} for appending: {e}") from e

    # ----------------------------------------------------------------- appending

    @property
    def n_episodes(self) -> int:
        return store.read_commit(self._h5)[0]

    @property
    def n_steps(self) -> int:
        return store.read_commit(self._h5)[1]

    @property
    def _h5(self) -> h5py.File:
        if self._file is None:
            raise DatasetError(f"{self.path}: writer is closed")
        return self._file

    def append(self, episode: Episode) -> None:
        """Validate ``episode`` and write it; nothing is written if validation fails."""
        rows = validate_episode(self.meta, episode, str(self.path))
        n_ep, n = store.read_commit(self._h5)
        step_cap, ep_cap = store.capacity(self._h5)
        if n + len(episode.reward) > step_cap or n_ep + 1 > ep_cap:
            self._grow(n + len(episode.reward), n_ep + 1)
        f = self._h5
        m = len(episode.reward)
        rows["steps/episode"] = np.full(m, n_ep, dtype=np.int64)
        for key, value in rows.items():
            f[key][n : n + m] = value
        for name, value in (("start", n), ("length", m), ("seed", episode.seed)):
            f[f"episodes/{name}"][n_ep] = value
        f.flush()  # the rows are on disk before the commit record says they exist
        f["commit"][:] = (n_ep + 1, n + m)
        f.flush()

    def _grow(self, need_steps: int, need_episodes: int) -> None:
        step_cap, ep_cap = store.capacity(self._h5)
        self._h5.close()
        self._file = None
        store.rewrite(self.path, max(2 * step_cap, need_steps), max(2 * ep_cap, need_episodes))
        self._open()

    def close(self, compact: bool = True) -> None:
        """Close the file, shrinking it to exactly the rows it holds (images compressed)."""
        if self._file is None:
            return
        n_ep, n = store.read_commit(self._file)
        step_cap, ep_cap = store.capacity(self._file)
        self._file.close()
        self._file = None
        if compact:
            store.rewrite(self.path, n, n_ep, final=True)

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(
        self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def validate_episode(meta: DatasetMeta, ep: Episode, where: str) -> dict[str, np.ndarray]:
    """Check an episode against the dataset layout; return its rows keyed by path in the file."""
    m = len(ep.reward)
    if m < 1:
        raise DatasetError(f"{where}: an episode needs at least one row (the reset observation)")
    missing = set(meta.obs_keys) - set(ep.obs)
    extra = set(ep.obs) - set(meta.obs_keys)
    if missing or extra:
        raise DatasetError(
            f"{where}: observation keys do not match the dataset "
            f"(missing {sorted(missing)}, unexpected {sorted(extra)})"
        )
    rows = {f"steps/obs/{f.key}": _column(f, ep.obs[f.key], m, where) for f in meta.obs_fields}
    rows["steps/action"] = _column(meta.action, ep.action, m, where)
    rows["steps/reward"] = _column(FieldSpec("reward", (), "float32"), ep.reward, m, where)
    flags = np.zeros(m, dtype=bool)
    first = flags.copy()
    first[0] = True
    term, trunc = flags.copy(), flags.copy()
    term[-1], trunc[-1] = ep.terminated, ep.truncated
    rows.update({"steps/is_first": first, "steps/terminated": term, "steps/truncated": trunc})
    return rows


def _column(spec: FieldSpec, value: np.ndarray, rows: int, where: str) -> np.ndarray:
    arr = np.asarray(value)
    if spec.is_text:
        arr = _encode_text(spec, arr, where)
    want = (rows, *spec.shape)
    if arr.shape != want:
        raise DatasetError(
            f"{where}: key '{spec.key}' has shape {arr.shape}, the dataset expects {want} "
            f"(rows, {spec.shape}); was the data collected from another env or --obs mode?"
        )
    dtype = np.dtype(spec.dtype)
    if arr.dtype.kind == "f" and dtype.kind in "fc":
        bad = ~np.isfinite(arr)
        if bad.any():
            row = int(np.argwhere(bad.reshape(rows, -1).any(axis=1))[0, 0])
            raise DatasetError(
                f"{where}: key '{spec.key}' has NaN/inf at row {row} of the episode; "
                "the episode was not written (check the env or policy producing it)"
            )
    if not np.can_cast(arr.dtype, dtype, casting="same_kind") and arr.dtype != dtype:
        if not (arr.dtype.kind in "iub" and dtype.kind in "iubf"):
            raise DatasetError(
                f"{where}: key '{spec.key}' has dtype {arr.dtype}, the dataset expects {dtype}"
            )
    return arr.astype(dtype, copy=False)


def _encode_text(spec: FieldSpec, arr: np.ndarray, where: str) -> np.ndarray:
    if arr.dtype.kind == "S":
        encoded = arr
    else:
        encoded = np.array([str(s).encode("utf-8") for s in arr.ravel()], dtype=object)
        encoded = encoded.reshape(arr.shape)
    width = np.dtype(spec.dtype).itemsize
    longest = max((len(s) for s in encoded.ravel()), default=0)
    if longest > width:
        raise DatasetError(
            f"{where}: text key '{spec.key}' has a {longest}-byte entry; the dataset holds at "
            f"most {width} bytes per entry"
        )
    return encoded.astype(spec.dtype)
