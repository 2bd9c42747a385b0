"""The held-out episode split, the training and validation samplers, and the sampler's state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from forethought.core.errors import ForethoughtError
from forethought.data.reader import Dataset
from forethought.data.sampler import WindowSampler
from forethought.training.config import TrainConfig

_VAL_SEED_OFFSET = 1_000_003  # validation windows come from their own stream


@dataclass(frozen=True)
class EpisodeSplit:
    """Episode indices used for training and held out for validation (sorted, disjoint)."""

    train: np.ndarray  # (E_train,) int64
    val: np.ndarray  # (E_val,) int64, empty when there is no validation


def split_episodes(n_episodes: int, val_fraction: float, seed: int) -> EpisodeSplit:
    """Hold out ``round(n * val_fraction)`` (at least 1) episodes, chosen by ``seed``.

    Raises:
        ForethoughtError: too few episodes to hold any out and still train on some.
    """
    all_eps = np.arange(n_episodes, dtype=np.int64)
    if val_fraction <= 0:
        return EpisodeSplit(all_eps, np.zeros(0, dtype=np.int64))
    n_val = max(1, int(round(n_episodes * val_fraction)))
    if n_episodes - n_val < 1:
        raise ForethoughtError(
            f"the dataset has {n_episodes} episode(s): too few for a validation split of "
            f"{val_fraction:g}; collect more episodes or pass --val-fraction 0"
        )
    order = np.random.default_rng([seed, 0x5EED]).permutation(n_episodes)
    return EpisodeSplit(np.sort(order[n_val:]), np.sort(order[:n_val]))


def make_samplers(
    dataset: Dataset,
    cfg: TrainConfig,
    split: EpisodeSplit,
    obs_keys: tuple[str, ...] | None = None,
) -> tuple[WindowSampler, WindowSampler | None]:
    """The training sampler and (when there are held-out episodes) the validation sampler."""
    lengths = dataset.episode_lengths
    for name, eps in (("training", split.train), ("validation", split.val)):
        if eps.size and not (lengths[eps] >= cfg.window).any():
            raise ForethoughtError(
                f"no {name} episode has {cfg.window} rows (longest: {int(lengths[eps].max())}); "
                f"pass a shorter --window"
                + (" or --val-fraction 0" if name == "validation" else "")
            )
    train = WindowSampler(
        dataset, cfg.window, cfg.batch_size, obs_keys=obs_keys, episodes=split.train, seed=cfg.seed
    )
    if split.val.size == 0:
        return train, None
    val = WindowSampler(
        dataset,
        cfg.window,
        cfg.batch_size,
        obs_keys=obs_keys,
        episodes=split.val,
        seed=cfg.seed + _VAL_SEED_OFFSET,
    )
    return train, val


def sampler_state(sampler: WindowSampler) -> dict[str, Any]:
    """The sampler's generator state (and layout facts checked on restore), JSON-ready.

    Resume is exact for in-memory samplers. A chunked (out-of-memory) sampler's span pool is
    re-read on restore, so its windows continue from the same generator but a fresh pool.
    """
    return {
        "bit_generator": sampler.rng_state(),
        "in_memory": bool(sampler.in_memory),
        "n_windows": sampler.n_windows,
    }


def restore_sampler(sampler: WindowSampler, state: dict[str, Any]) -> None:
    """Continue ``sampler`` from a state saved by :func:`sampler_state`."""
    if state["n_windows"] != sampler.n_windows:
        raise ForethoughtError(
            f"the training split has {sampler.n_windows} windows but the checkpoint's had "
            f"{state['n_windows']}; resume with the run's --window and the same dataset"
        )
    sampler.set_rng_state(state["bit_generator"])
