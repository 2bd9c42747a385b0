"""Random windows of T consecutive rows that never cross an episode boundary, as torch batches.

Two ways to feed the windows, chosen by size:

- **in memory** (vector data): every requested key is loaded once; a batch is one numpy gather.
- **chunked** (image data larger than ``memory_budget``): a pool of *spans* (runs of whole,
  consecutive episodes read from disk in one contiguous slice) is held in memory; windows are drawn
  from the pool, and one span is swapped for a freshly read one after every batch. A span starts at
  a uniformly chosen episode and wraps around the end of the file, so every episode is equally
  likely to be in the pool and sampling stays uniform over time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from forethought.core.errors import DatasetError
from forethought.data.reader import Dataset

STEP_KEYS = ("action", "reward", "is_first", "terminated")


@dataclass(frozen=True)
class WindowBatch:
    """A batch of B windows of T rows. ``obs`` keys are the dataset's observation keys."""

    obs: dict[str, torch.Tensor]  # key -> (B, T, *shape), dtype as stored (images stay uint8)
    action: torch.Tensor  # (B, T, A) float32 or (B, T) int64; action[:, t] led to obs[:, t]
    reward: torch.Tensor  # (B, T) float32
    is_first: torch.Tensor  # (B, T) bool
    terminated: torch.Tensor  # (B, T) bool
    start: torch.Tensor  # (B,) int64: dataset row of each window's first step
    text: dict[str, np.ndarray] = field(default_factory=dict)  # text keys -> (B, T) UTF-8 bytes

    @property
    def batch_size(self) -> int:
        return int(self.reward.shape[0])

    @property
    def window(self) -> int:
        return int(self.reward.shape[1])

    def to(self, device: torch.device | str) -> WindowBatch:
        return WindowBatch(
            obs={k: v.to(device, non_blocking=True) for k, v in self.obs.items()},
            action=self.action.to(device),
            reward=self.reward.to(device),
            is_first=self.is_first.to(device),
            terminated=self.terminated.to(device),
            start=self.start,
            text=self.text,
        )


def valid_window_starts(starts: np.ndarray, lengths: np.ndarray, window: int) -> np.ndarray:
    """Every row where a window of ``window`` rows fits inside its episode. (W,) int64."""
    counts = np.maximum(lengths - window + 1, 0)
    if counts.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + offsets


class WindowSampler:
    """Samples :class:`WindowBatch` es of ``window`` rows from a :class:`Dataset`.

    Args:
        dataset: an open dataset.
        window: T, rows per window. Episodes shorter than T are skipped.
        batch_size: B, windows per batch.
        obs_keys: observation keys to load (default: all).
        episodes: restrict sampling to these episode indices (e.g. a training split).
        seed: seeds the sampler's own generator.
        memory_budget: bytes the in-memory mode may use; larger data is read in spans.
        in_memory: force one mode (``None`` picks by ``memory_budget``).
        span_rows: rows per span in chunked mode.
        pool_spans: spans held at once in chunked mode.
    """

    def __init__(
        self,
        dataset: Dataset,
        window: int,
        batch_size: int,
        obs_keys: tuple[str, ...] | None = None,
        episodes: np.ndarray | None = None,
        seed: int = 0,
        memory_budget: int = 2 << 30,
        in_memory: bool | None = None,
        span_rows: int = 2048,
        pool_spans: int = 8,
    ) -> None:
        if window < 1 or batch_size < 1:
            raise ValueError("window and batch_size must be positive")
        self.dataset = dataset
        self.window = window
        self.batch_size = batch_size
        self.obs_keys = tuple(obs_keys) if obs_keys is not None else dataset.meta.obs_keys
        for k in self.obs_keys:
            dataset.field_shape(f"obs/{k}")  # raises a clear error for a missing key
        self._rng = np.random.default_rng(seed)
        ep = np.arange(dataset.n_episodes) if episodes is None else np.asarray(episodes)
        self.episodes = ep[dataset.episode_lengths[ep] >= window]
        if self.episodes.size == 0:
            raise DatasetError(
                f"{dataset.path}: no episode has at least {window} rows; use a shorter window "
                f"(longest episode: {int(dataset.episode_lengths.max(initial=0))} rows)"
            )
        self._keys = tuple(f"obs/{k}" for k in self.obs_keys) + STEP_KEYS
        row_bytes = sum(
            dataset.field_dtype(k).itemsize * int(np.prod(dataset.field_shape(k)))
            for k in self._keys
        )
        fits = row_bytes * dataset.n_steps <= memory_budget
        self.in_memory = fits if in_memory is None else in_memory
        if self.in_memory:
            self._arrays = {k: dataset.load(k) for k in self._keys}
            self._starts = valid_window_starts(
                dataset.episode_starts[self.episodes],
                dataset.episode_lengths[self.episodes],
                window,
            )
        else:
            self._pool = _SpanPool(self, span_rows, pool_spans)

    @property
    def n_windows(self) -> int:
        """Number of distinct windows the sampler draws from."""
        lengths = self.dataset.episode_lengths[self.episodes]
        return int(np.maximum(lengths - self.window + 1, 0).sum())

    def rng_state(self) -> dict:
        """The random generator's state (JSON-ready), for exact resumption of training."""
        return self._rng.bit_generator.state

    def set_rng_state(self, state: dict) -> None:
        """Continue drawing from a state given by :meth:`rng_state`."""
        self._rng.bit_generator.state = state

    def read(self, key: str, lo: int, hi: int) -> np.ndarray:
        """Rows ``lo:hi`` of one field (``obs/<name>``, ``action``, ...): from memory when the
        sampler holds the data, so a pass over every row does not decompress the file again."""
        if self.in_memory and key in self._arrays:
            return self._arrays[key][lo:hi]
        return self.dataset.read(key, lo, hi)

    @property
    def n_steps(self) -> int:
        """Rows in the whole dataset (not only the sampled episodes)."""
        return self.dataset.n_steps

    def sample(self) -> WindowBatch:
        """One batch of windows, drawn uniformly with replacement."""
        if self.in_memory:
            starts = self._starts[self._rng.integers(0, self._starts.size, self.batch_size)]
            idx = starts[:, None] + np.arange(self.window)  # (B, T) dataset rows
            cols = {k: arr[idx] for k, arr in self._arrays.items()}
        else:
            starts, cols = self._pool.sample(self.batch_size)
        return self._to_batch(starts, cols)

    def __iter__(self):
        while True:
            yield self.sample()

    def _to_batch(self, starts: np.ndarray, cols: dict[str, np.ndarray]) -> WindowBatch:
        text = {k[4:]: v for k, v in cols.items() if v.dtype.kind == "S"}
        t = {
            k: torch.from_numpy(np.ascontiguousarray(v))
            for k, v in cols.items()
            if v.dtype.kind != "S"
        }
        action = t["action"]
        if action.dtype == torch.float64:
            action = action.float()
        return WindowBatch(
            obs={k: t[f"obs/{k}"] for k in self.obs_keys if k not in text},
            action=action,
            reward=t["reward"].float(),
            is_first=t["is_first"].bool(),
            terminated=t["terminated"].bool(),
            start=torch.from_numpy(starts.astype(np.int64)),
            text=text,
        )


class _SpanPool:
    """Spans of consecutive whole episodes held in memory; one is replaced after each batch."""

    def __init__(self, sampler: WindowSampler, span_rows: int, pool_spans: int) -> None:
        self.s = sampler
        self.span_rows = span_rows
        self.spans = [self._read_span() for _ in range(pool_spans)]

    def _read_span(self) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Consecutive episodes from a random one on, wrapping past the end of the set, read as
        (at most two) contiguous slices: every episode is equally likely to be in a span."""
        s = self.s
        eps, n = s.episodes, s.episodes.size
        first = int(s._rng.integers(0, n))
        order = np.roll(np.arange(n), -first)
        count = int(
            np.searchsorted(np.cumsum(s.dataset.episode_lengths[eps[order]]), self.span_rows)
        )
        chosen = eps[order[: min(n, count + 1)]]
        pieces = np.split(chosen, np.flatnonzero(np.diff(chosen) != 1) + 1)  # contiguous runs
        global_starts, local_starts, parts, offset = [], [], [], 0
        for run in pieces:
            lo = int(s.dataset.episode_starts[run[0]])
            hi = int(s.dataset.episode_starts[run[-1]] + s.dataset.episode_lengths[run[-1]])
            starts = valid_window_starts(
                s.dataset.episode_starts[run], s.dataset.episode_lengths[run], s.window
            )
            global_starts.append(starts)
            local_starts.append(starts - lo + offset)
            parts.append({k: s.dataset.read(k, lo, hi) for k in s._keys})
            offset += hi - lo
        cols = {k: np.concatenate([p[k] for p in parts]) for k in s._keys}
        return np.concatenate(global_starts), np.concatenate(local_starts), cols

    def sample(self, batch_size: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        rng = self.s._rng
        counts = np.array([sp[0].size for sp in self.spans])
        which = rng.choice(len(self.spans), size=batch_size, p=counts / counts.sum())
        offsets = np.arange(self.s.window)
        starts = np.empty(batch_size, dtype=np.int64)
        out = {
            k: np.empty((batch_size, self.s.window, *v.shape[1:]), dtype=v.dtype)
            for k, v in self.spans[0][2].items()
        }
        for j in np.unique(which):
            rows = np.flatnonzero(which == j)
            span_starts, local_starts, cols = self.spans[j]
            pick = rng.integers(0, span_starts.size, rows.size)
            starts[rows] = span_starts[pick]
            idx = local_starts[pick][:, None] + offsets  # (b, T) rows inside the span
            for k, arr in cols.items():
                out[k][rows] = arr[idx]
        self.spans[int(rng.integers(0, len(self.spans)))] = self._read_span()
        return starts, out
