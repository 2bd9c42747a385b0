"""Import and export of datasets in other formats: Minari and plain NumPy ``.npz``.

The public functions live in :mod:`forethought.data.minari_io` and :mod:`forethought.data.npz_io`
and are re-exported here (loaded on first use, so that ``minari`` is imported only when needed)::

    export_minari(dataset, dataset_id, *, data_path=None) -> str
    import_minari(dataset_id, out, *, data_path=None, env_id=None, overwrite=False) -> Path
    export_npz(dataset, path, *, overwrite=False) -> Path
    import_npz(path, out, *, env_id=None, overwrite=False) -> Path

This module also holds the helpers the formats share.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from forethought.core.errors import DatasetError
from forethought.core.spaces import FieldSpec, space_from_json
from forethought.data.episode import Episode
from forethought.data.meta import DatasetMeta
from forethought.data.reader import Dataset
from forethought.data.writer import DatasetWriter

if TYPE_CHECKING:
    from forethought.data.minari_io import export_minari, import_minari
    from forethought.data.npz_io import export_npz, import_npz

__all__ = ["export_minari", "export_npz", "import_minari", "import_npz"]

_HOMES = {
    "export_minari": "minari_io",
    "import_minari": "minari_io",
    "export_npz": "npz_io",
    "import_npz": "npz_io",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"forethought.data.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@contextlib.contextmanager
def opened(dataset: Dataset | str | os.PathLike[str]) -> Iterator[Dataset]:
    """Yield ``dataset`` itself, or a :class:`Dataset` opened from a path (closed afterwards)."""
    if isinstance(dataset, Dataset):
        yield dataset
        return
    with Dataset(dataset) as ds:
        yield ds


def fresh_path(path: str | os.PathLike[str], overwrite: bool) -> Path:
    """``path`` as a Path; a one-line error if it exists and ``overwrite`` is false."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise DatasetError(f"{path} already exists; choose another output path or overwrite it")
    return path


def write_new(
    out: str | os.PathLike[str], meta: DatasetMeta, episodes: Iterable[Episode], overwrite: bool
) -> Path:
    """Write ``episodes`` to a new dataset file at ``out``; all or nothing.

    The file is built beside ``out`` under a hidden name and moved into place only once every
    episode is written, so a failure (or a bad input found half-way) leaves no partial dataset.
    """
    out = fresh_path(out, overwrite)
    tmp = out.with_name(f".{out.name}.importing-{os.getpid()}")
    try:
        with DatasetWriter.create(tmp, meta, overwrite=True) as writer:
            for ep in episodes:
                writer.append(ep)
        tmp.replace(out)
    except DatasetError as e:  # name the file the caller asked for, not the hidden one
        raise DatasetError(str(e).replace(str(tmp), str(out))) from e
    finally:
        tmp.unlink(missing_ok=True)
    return out


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"a/b": x, "c": y}`` -> ``{"a": {"b": x}, "c": y}`` (inverse of the ``/`` key joins)."""
    tree: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, name = key.split("/")
        node = tree
        for p in parents:
            node = node.setdefault(p, {})
        node[name] = value
    return tree


def dict_space(tree: dict[str, Any]) -> gym.spaces.Dict:
    """A (nested) Dict space from a nested dict of leaf spaces."""
    return gym.spaces.Dict(
        {k: dict_space(v) if isinstance(v, dict) else v for k, v in tree.items()}
    )


def dataset_obs_space(ds: Dataset) -> gym.Space:
    """A dataset's observation space for export: its stored space, rebuilt from the metadata,
    with every text field as a :class:`gymnasium.spaces.Text` whose charset covers the data
    (custom text spaces such as MiniGrid's ``MissionSpace`` are not serialisable elsewhere)."""
    original = space_from_json(ds.meta.observation_space)
    leaves = {
        f.key: _text_space(ds, f) if f.is_text else _subspace(original, f.key)
        for f in ds.meta.obs_fields
    }
    if not isinstance(original, gym.spaces.Dict) and len(leaves) == 1:
        return next(iter(leaves.values()))
    return dict_space(unflatten(leaves))


def nested_obs(obs: dict[str, np.ndarray], as_dict: bool) -> Any:
    """Stored ``{key: rows}`` back in the shape of the space from :func:`dataset_obs_space`:
    nested dicts (or the single array of a bare space), text as lists of ``str``."""
    out = {
        k: [s.decode("utf-8") for s in v.tolist()] if v.dtype.kind == "S" else v
        for k, v in obs.items()
    }
    return unflatten(out) if as_dict or len(out) > 1 else next(iter(out.values()))


def _subspace(space: gym.Space, key: str) -> gym.Space:
    if isinstance(space, gym.spaces.Dict):
        for part in key.split("/"):
            space = space[part]
    return space


def _text_space(ds: Dataset, f: FieldSpec) -> gym.spaces.Text:
    chars = set().union(*(s.decode("utf-8") for s in np.unique(ds.load(f"obs/{f.key}"))))
    charset = "".join(sorted(chars | set(gym.spaces.text.alphanumeric)))
    return gym.spaces.Text(max_length=np.dtype(f.dtype).itemsize, min_length=0, charset=charset)
