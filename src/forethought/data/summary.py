"""``forethought data inspect``: what a dataset holds, and how well it covers its spaces."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forethought.data.reader import Dataset


@dataclass(frozen=True)
class KeySummary:
    key: str
    shape: tuple[int, ...]
    dtype: str
    low: float | None  # min over all rows (numeric keys)
    high: float | None


@dataclass(frozen=True)
class DatasetSummary:
    path: str
    env_id: str
    policy: str
    seed: int | None
    obs_mode: str
    episodes: int
    steps: int  # transitions: rows minus one reset row per episode
    length_min: int
    length_mean: float
    length_max: int
    terminated: int
    truncated: int
    return_mean: float
    return_std: float
    keys: tuple[KeySummary, ...]
    action_mean: tuple[float, ...]
    action_std: tuple[float, ...]
    action_counts: tuple[int, ...] | None  # discrete actions: count per action
    coverage: float | None  # share of a 20x20 grid over the first two state dims that was visited
    fingerprint: str

    def format(self) -> str:
        lines = [
            f"{self.path}",
            f"  env {self.env_id}   policy {self.policy}   seed {self.seed}   obs {self.obs_mode}",
            f"  {self.episodes} episodes, {self.steps} steps (length {self.length_min}/"
            f"{self.length_mean:.1f}/{self.length_max} min/mean/max), terminated "
            f"{self.terminated}, truncated {self.truncated}",
            f"  return {self.return_mean:.3f} +- {self.return_std:.3f}   "
            f"fingerprint {self.fingerprint}",
            "  keys:",
        ]
        for k in self.keys:
            rng = f"  range [{k.low:.3g}, {k.high:.3g}]" if k.low is not None else ""
            lines.append(f"    {k.key:<24} {str(k.shape):<16} {k.dtype:<8}{rng}")
        if self.action_counts is not None:
            lines.append(f"  action counts: {list(self.action_counts)}")
        else:
            mean = ", ".join(f"{m:.3f}" for m in self.action_mean)
            std = ", ".join(f"{s:.3f}" for s in self.action_std)
            lines.append(f"  action mean [{mean}]  std [{std}]")
        if self.coverage is not None:
            lines.append(
                f"  state coverage: {100 * self.coverage:.1f}% of a 20x20 grid (dims 0, 1)"
            )
        return "\n".join(lines)


def _state_key(ds: Dataset) -> str | None:
    for f in ds.meta.obs_fields:
        if len(f.shape) == 1 and f.shape[0] >= 2 and np.dtype(f.dtype).kind == "f":
            return f"obs/{f.key}"
    return None


def _grid_coverage(xy: np.ndarray, bins: int = 20) -> float:
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    if np.any(hi <= lo):
        return 0.0
    hist, _, _ = np.histogram2d(
        xy[:, 0], xy[:, 1], bins=bins, range=[[lo[0], hi[0]], [lo[1], hi[1]]]
    )
    return float((hist > 0).mean())


def summarize(ds: Dataset) -> DatasetSummary:
    """Counts, per-key shapes and ranges, action statistics and state coverage."""
    keys = []
    for key in ds.keys[:-5]:  # obs keys and action; per-step flags are summarised as counts
        dtype = ds.field_dtype(key)
        low = high = None
        if dtype.kind in "iuf" and np.prod(ds.field_shape(key)) <= 4096:
            arr = ds.load(key)
            low, high = float(arr.min()), float(arr.max())
        name = f"text{dtype.itemsize}" if dtype.kind == "S" else dtype.name
        keys.append(KeySummary(key, ds.field_shape(key), name, low, high))
    first = ds.load("is_first")
    action = ds.load("action")[~first]
    reward = ds.load("reward")
    returns = np.add.reduceat(reward, ds.episode_starts) if ds.n_episodes else np.zeros(1)
    discrete = action.dtype.kind in "iu"
    counts = tuple(int(c) for c in np.bincount(action.ravel())) if discrete else None
    flat = action.reshape(len(action), -1).astype(np.float64)
    state_key = _state_key(ds)
    coverage = _grid_coverage(ds.load(state_key)[:, :2]) if state_key else None
    lengths = ds.episode_lengths
    return DatasetSummary(
        path=str(ds.path),
        env_id=ds.meta.env_id,
        policy=ds.meta.policy,
        seed=ds.meta.seed,
        obs_mode=ds.meta.obs_mode,
        episodes=ds.n_episodes,
        steps=int(ds.n_steps - ds.n_episodes),
        length_min=int(lengths.min() - 1),
        length_mean=float(lengths.mean() - 1),
        length_max=int(lengths.max() - 1),
        terminated=int(ds.load("terminated").sum()),
        truncated=int(ds.load("truncated").sum()),
        return_mean=float(returns.mean()),
        return_std=float(returns.std()),
        keys=tuple(keys),
        action_mean=tuple(float(x) for x in flat.mean(axis=0)) if len(flat) else (),
        action_std=tuple(float(x) for x in flat.std(axis=0)) if len(flat) else (),
        action_counts=counts,
        coverage=coverage,
        fingerprint=ds.fingerprint(),
    )


def save_coverage_plot(ds: Dataset, out: str | Path) -> Path:
    """A PNG with the visited-state density (first two state dims) and the action histogram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    state_key = _state_key(ds)
    if state_key:
        xy = ds.load(state_key)[:, :2]
        axes[0].hist2d(xy[:, 0], xy[:, 1], bins=50, cmap="viridis")
        axes[0].set_title(f"{state_key} dims 0,1 (rows: {len(xy)})")
        axes[0].set_aspect("equal")
    else:
        axes[0].text(0.5, 0.5, "no vector state key", ha="center")
    action = ds.load("action")[~ds.load("is_first")]
    if action.dtype.kind in "iu":
        axes[1].bar(np.arange(action.max() + 1), np.bincount(action.ravel()))
    else:
        for d in range(min(action.reshape(len(action), -1).shape[1], 4)):
            axes[1].hist(action.reshape(len(action), -1)[:, d], bins=40, alpha=0.5, label=f"a{d}")
        axes[1].legend()
    axes[1].set_title("actions")
    fig.suptitle(f"{ds.meta.env_id}: {ds.n_episodes} episodes")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
