"""Plain NumPy ``.npz`` export and import of datasets.

The archive holds every row of the dataset, flat (episodes back to back, the row convention of
:mod:`forethought.data.episode`)::

    obs/<key>    (rows, *shape)    one array per observation key
    action       (rows, *shape)    row 0 of every episode is zeros
    reward       (rows,) float32   row 0 of every episode is 0
    is_first     (rows,) bool      True on the reset row of each episode
    terminated   (rows,) bool      set on an episode's last row
    truncated    (rows,) bool
    episode      (rows,) int64     episode index of each row
    metadata     () unicode        the dataset's JSON metadata (optional on import)

Nothing is pickled: archives are written and read with ``allow_pickle=False``.
"""

from __future__ import annotations

import dataclasses
import os
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np

from forethought.core.errors import DatasetError
from forethought.core.spaces import action_field, obs_fields, space_to_json
from forethought.data.episode import Episode
from forethought.data.interop import dict_space, fresh_path, opened, unflatten, write_new
from forethought.data.meta import DatasetMeta
from forethought.data.reader import Dataset

STEP_KEYS = ("action", "reward", "is_first", "terminated", "truncated", "episode")

__all__ = ["export_npz", "import_npz"]


# ------------------------------------------------------------- export


def export_npz(
    dataset: Dataset | str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
) -> Path:
    """Write every row of a dataset to one ``.npz`` archive (layout in the module docstring).

    Args:
        dataset: An open :class:`Dataset` or the path of a dataset file.
        path: The archive to write (written exactly here: no ``.npz`` is appended).
        overwrite: Replace ``path`` if it exists.

    Returns:
        The path written.

    Raises:
        DatasetError: ``path`` exists and ``overwrite`` is false, or the dataset is unreadable.
    """
    path = fresh_path(path, overwrite)
    with opened(dataset) as ds:
        keys = [f"obs/{k}" for k in ds.meta.obs_keys] + list(STEP_KEYS)
        # plain dtypes: h5py's string dtypes carry metadata that numpy warns about and drops
        arrays = {k: (a := ds.load(k)).view(np.dtype(a.dtype.str)) for k in keys}
        arrays["metadata"] = np.array(ds.meta.to_json())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.writing-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:  # a file object: numpy appends no suffix
            np.savez_compressed(f, **arrays)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# ------------------------------------------------------------- import


def import_npz(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    env_id: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Turn an ``.npz`` archive in the layout above into a dataset file.

    ``metadata`` is optional. Without it the observation/action spaces are inferred from the
    arrays (float -> unbounded Box, integer -> Box over the data's range, bytes -> Text; integer
    actions -> Discrete/MultiDiscrete, float actions -> Box), episode boundaries come from
    ``is_first`` (or, failing that, ``episode``), missing ``terminated``/``truncated`` are False.

    Args:
        path: The ``.npz`` archive to read.
        out: The dataset file to create.
        env_id: Env id to record; overrides the archive's metadata. Defaults to the metadata's,
            else ``"unknown"``.
        overwrite: Replace ``out`` if it exists.

    Returns:
        The path of the new dataset.

    Raises:
        DatasetError: The archive is unreadable, lacks a required key, or its arrays disagree.
    """
    path = Path(path)
    arrays, meta_text = _read_archive(path)
    rows = _check_rows(path, arrays)
    if meta_text is not None:
        meta = DatasetMeta.from_json(meta_text, where=f"{path} (metadata)")
        have = {k[4:] for k in arrays if k.startswith("obs/")}
        if have != set(meta.obs_keys):
            raise DatasetError(
                f"{path}: obs arrays {sorted(have)} do not match the metadata's keys "
                f"{sorted(meta.obs_keys)}"
            )
        if env_id is not None:
            meta = dataclasses.replace(meta, env_id=env_id)
    else:
        meta = _infer_meta(path, arrays, env_id or "unknown")
    starts = _episode_starts(path, arrays, rows)
    return write_new(out, meta, _episodes(arrays, meta, starts, rows), overwrite)


def _read_archive(path: Path) -> tuple[dict[str, np.ndarray], str | None]:
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise DatasetError(f"{path}: not an .npz archive (not a zip file)")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays: dict[str, np.ndarray] = {}
            for key in z.files:
                try:
                    arrays[key] = z[key]
                except ValueError as e:  # object arrays need pickle, which is refused
                    raise DatasetError(f"{path}: key '{key}' is unreadable ({e})") from e
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise DatasetError(f"{path}: cannot read the .npz archive ({e})") from e
    meta = arrays.pop("metadata", None)
    if meta is not None and (meta.ndim != 0 or meta.dtype.kind not in "US"):
        raise DatasetError(f"{path}: key 'metadata' must be a 0-d string array")
    text = None if meta is None else (meta.item().decode() if meta.dtype.kind == "S" else str(meta))
    return arrays, text


def _check_rows(path: Path, arrays: dict[str, np.ndarray]) -> int:
    for key in ("action", "reward"):
        if key not in arrays:
            raise DatasetError(f"{path}: required key '{key}' is missing (has {sorted(arrays)})")
    if not any(k.startswith("obs/") for k in arrays):
        raise DatasetError(f"{path}: no observation arrays (keys named 'obs/<name>')")
    rows = len(arrays["action"]) if arrays["action"].ndim else 0
    for key, arr in arrays.items():
        if (key.startswith("obs/") or key in STEP_KEYS) and (arr.ndim == 0 or len(arr) != rows):
            n = "0-d" if arr.ndim == 0 else f"{len(arr)} rows"
            raise DatasetError(f"{path}: key '{key}' has {n}, but 'action' has {rows} rows")
    if rows == 0:
        raise DatasetError(f"{path}: the archive holds no rows")
    return rows


def _episode_starts(path: Path, arrays: dict[str, np.ndarray], rows: int) -> np.ndarray:
    if "is_first" in arrays:
        first = arrays["is_first"].astype(bool).reshape(rows, -1)[:, 0]
        where = "is_first"
    elif "episode" in arrays:
        ep = arrays["episode"].reshape(rows, -1)[:, 0]
        first = np.concatenate([[True], ep[1:] != ep[:-1]])
        where = "episode"
    else:
        raise DatasetError(f"{path}: needs 'is_first' or 'episode' to find episode boundaries")
    if not first[0]:
        raise DatasetError(f"{path}: key '{where}' does not start an episode at row 0")
    return np.flatnonzero(first)


def _episodes(
    arrays: dict[str, np.ndarray], meta: DatasetMeta, starts: np.ndarray, rows: int
) -> Iterator[Episode]:
    ends = np.append(starts[1:], rows)
    zeros = np.zeros(rows, dtype=bool)
    term = arrays.get("terminated", zeros).astype(bool)
    trunc = arrays.get("truncated", zeros).astype(bool)
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        yield Episode(
            obs={k: arrays[f"obs/{k}"][lo:hi] for k in meta.obs_keys},
            action=arrays["action"][lo:hi],
            reward=arrays["reward"][lo:hi].astype(np.float32),
            terminated=bool(term[hi - 1]),
            truncated=bool(trunc[hi - 1]),
        )


# ------------------------------------------------------------- inferring spaces


def _infer_meta(path: Path, arrays: dict[str, np.ndarray], env_id: str) -> DatasetMeta:
    leaves = {k[4:]: _obs_space(path, k, v) for k, v in arrays.items() if k.startswith("obs/")}
    for key in leaves:
        if arrays[f"obs/{key}"].dtype.kind == "b":
            arrays[f"obs/{key}"] = arrays[f"obs/{key}"].astype(np.uint8)
    (name, leaf) = next(iter(leaves.items()))
    bare = len(leaves) == 1 and obs_fields(leaf)[0].key == name  # "state" or "pixels"
    space = leaf if bare else dict_space(unflatten(leaves))
    act_space = _action_space(path, arrays["action"])
    fields = tuple(obs_fields(space))
    return DatasetMeta(
        env_id=env_id,
        obs_fields=fields,
        action=action_field(act_space),
        observation_space=space_to_json(space),
        action_space=space_to_json(act_space),
        policy=f"npz:{path.name}",
        obs_mode="pixels" if [f.key for f in fields] == ["pixels"] else "state",
    )


def _obs_space(path: Path, key: str, arr: np.ndarray) -> gym.Space:
    shape, kind = arr.shape[1:], arr.dtype.kind
    if kind in "SU":
        if shape:
            raise DatasetError(f"{path}: text key '{key}' must hold one string per row")
        width = arr.dtype.itemsize  # bytes; str as UTF-8 needs up to 4 per character
        if kind == "U":
            width = max([len(s.encode("utf-8")) for s in arr.tolist()] + [width // 4])
        return gym.spaces.Text(max_length=max(width, 1), min_length=0)
    if kind == "b":
        return gym.spaces.Box(0, 1, shape, np.uint8)
    if arr.dtype == np.uint8:
        return gym.spaces.Box(0, 255, shape, np.uint8)
    if kind in "iu":
        return gym.spaces.Box(int(arr.min()), int(arr.max()), shape, arr.dtype)
    if kind == "f":
        return gym.spaces.Box(-np.inf, np.inf, shape, arr.dtype)
    raise DatasetError(f"{path}: key '{key}' has dtype {arr.dtype}, which cannot be imported")


def _action_space(path: Path, action: np.ndarray) -> gym.Space:
    kind = action.dtype.kind
    if kind == "f":
        return gym.spaces.Box(-np.inf, np.inf, action.shape[1:], np.float32)
    if kind in "iub" and action.ndim in (1, 2):
        a = action.astype(np.int64)
        if action.ndim == 1:
            lo = int(a.min())
            return gym.spaces.Discrete(int(a.max()) - lo + 1, start=lo)
        if a.min() >= 0:
            return gym.spaces.MultiDiscrete(a.max(axis=0) + 1)
    raise DatasetError(
        f"{path}: key 'action' has dtype {action.dtype} and shape {action.shape[1:]}; expected "
        "float (Box), integer scalars (Discrete) or non-negative integer vectors (MultiDiscrete)"
    )
