"""The on-disk layout of a dataset file, and the crash-safe way it grows.

One HDF5 file per dataset::

    attrs["metadata"]          JSON (DatasetMeta)
    commit                     int64 (2,): (episodes, steps) that are complete
    steps/obs/<key>            (capacity, *shape)   one row per step, all episodes back to back
    steps/action               (capacity, *shape)
    steps/reward               (capacity,) float32
    steps/is_first|terminated|truncated   (capacity,) bool
    steps/episode              (capacity,) int64    episode index of each row
    episodes/start|length|seed (episode_capacity,) int64

Crash safety (a ``kill -9`` at any moment keeps every finished episode) comes from never changing
HDF5 metadata while appending: every array is contiguous and allocated up front, so an append only
writes raw bytes into space that already exists, then bumps ``commit`` (written last, after a
flush). Readers look at rows below ``commit`` only. Growing past the capacity, and the final
compaction to the exact size (with compressed images), write a new file beside the old one and
``os.replace`` it in, which is atomic: a crash leaves either the old file or the new one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np

from forethought.data.meta import DatasetMeta

STEP_COLUMNS: tuple[tuple[str, str], ...] = (
    ("reward", "float32"),
    ("is_first", "bool"),
    ("terminated", "bool"),
    ("truncated", "bool"),
    ("episode", "int64"),
)
EPISODE_COLUMNS: tuple[str, ...] = ("start", "length", "seed")
COPY_BLOCK_BYTES = 64 << 20
IMAGE_CHUNK_ROWS = 64


def step_layout(meta: DatasetMeta) -> list[tuple[str, tuple[int, ...], str]]:
    """(path inside the file, per-row shape, dtype) of every per-step array."""
    out = [(f"steps/obs/{f.key}", f.shape, f.dtype) for f in meta.obs_fields]
    out.append(("steps/action", meta.action.shape, meta.action.dtype))
    out.extend((f"steps/{name}", (), dtype) for name, dtype in STEP_COLUMNS)
    return out


def _preallocated(f: h5py.File, name: str, shape: tuple[int, ...], dtype: str) -> None:
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)  # all space now: appends never touch metadata
    dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
    f.create_dataset(name, shape=shape, dtype=np.dtype(dtype), dcpl=dcpl)


def temp_path_for(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def stale_temp_files(path: Path) -> list[Path]:
    """Leftovers of a growth or compaction that was killed half-way."""
    return sorted(path.parent.glob(f".{path.name}.tmp-*"))


def create_file(
    path: Path, meta: DatasetMeta, step_capacity: int, episode_capacity: int, final: bool = False
) -> None:
    """Write an empty dataset with room for the given number of rows and episodes.

    ``final=True`` is the compacted, read-mostly layout: image arrays are stored in chunks of
    ``IMAGE_CHUNK_ROWS`` rows with LZF compression (TwoRoom frames shrink about 10x). Such a file
    is rewritten to the preallocated layout before anything is appended to it.
    """
    with h5py.File(path, "w") as f:
        f.attrs["metadata"] = meta.to_json()
        f.create_dataset("commit", data=np.zeros(2, dtype=np.int64))
        for name, shape, dtype in step_layout(meta):
            rows = max(step_capacity, 1)
            if final and len(shape) == 3 and np.dtype(dtype) == np.uint8:
                chunks = (min(IMAGE_CHUNK_ROWS, rows), *shape)
                f.create_dataset(name, (rows, *shape), dtype, chunks=chunks, compression="lzf")
            else:
                _preallocated(f, name, (rows, *shape), dtype)
        for name in EPISODE_COLUMNS:
            _preallocated(f, f"episodes/{name}", (max(episode_capacity, 1),), "int64")


def read_commit(f: h5py.File) -> tuple[int, int]:
    episodes, steps = (int(x) for x in f["commit"][:])
    return episodes, steps


def capacity(f: h5py.File) -> tuple[int, int]:
    return int(f["steps/reward"].shape[0]), int(f["episodes/start"].shape[0])


def row_blocks(n_rows: int, row_bytes: int) -> Iterator[tuple[int, int]]:
    step = max(1, COPY_BLOCK_BYTES // max(row_bytes, 1))
    for lo in range(0, n_rows, step):
        yield lo, min(n_rows, lo + step)


def is_appendable(f: h5py.File) -> bool:
    """True when every array is preallocated and contiguous (the layout appends need)."""
    return all(f[name].chunks is None for name, _, _ in step_layout(_meta(f)))


def _meta(f: h5py.File) -> DatasetMeta:
    return DatasetMeta.from_json(f.attrs["metadata"], where=str(f.filename))


def rewrite(path: Path, step_capacity: int, episode_capacity: int, final: bool = False) -> None:
    """Copy the committed part of ``path`` into a file of a new capacity, then swap it in."""
    tmp = temp_path_for(path)
    try:
        with h5py.File(path, "r") as src:
            meta = _meta(src)
            episodes, steps = read_commit(src)
            steps_cap, eps_cap = max(step_capacity, steps), max(episode_capacity, episodes)
            create_file(tmp, meta, steps_cap, eps_cap, final=final)
            with h5py.File(tmp, "r+") as dst:
                for name, _, _ in step_layout(meta):
                    row_bytes = src[name].dtype.itemsize * int(np.prod(src[name].shape[1:]))
                    for lo, hi in row_blocks(steps, row_bytes):
                        dst[name][lo:hi] = src[name][lo:hi]
                for name in EPISODE_COLUMNS:
                    dst[f"episodes/{name}"][:episodes] = src[f"episodes/{name}"][:episodes]
                dst["commit"][:] = (episodes, steps)
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
