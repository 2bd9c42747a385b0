"""A run's temporal-distance embedding: the goal space ``--goal-space temporal`` plans in.

:func:`fit_run_temporal` encodes every row of the run's training episodes with the frozen
encoder and fits :func:`~forethought.models.temporal_distance.fit_temporal_embedding` on them;
the result is cached under ``RUN/heads/`` like the state probe (see :mod:`run_heads`). It needs
no true state, only the observations the model reads. More episodes of the same env (``extra``:
datasets collected beside the training data, encoded with the same frozen encoder) give the head
more layouts to learn the walls from without touching the model.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from forethought.core.errors import ForethoughtError
from forethought.data.reader import Dataset
from forethought.eval.offline import open_training_data, train_episodes
from forethought.eval.run_heads import cached_mlp_head
from forethought.models.temporal_distance import TemporalDistanceConfig, fit_temporal_embedding


def _encoded(run: Any, ds: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Every row of ``ds`` through the run's frozen encoder, and its episode id: (N, D) float32,
    (N,) int64, in dataset order."""
    from forethought.training.latent_phase import cache_latents

    device = next(run.model.parameters()).device
    with torch.no_grad():
        z = cache_latents(run.model, ds, tuple(run.model.encoder.keys), device)  # (N, D)
    return z, torch.from_numpy(ds.load("episode").astype(np.int64))


def run_latents(run: Any, why: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The frozen latent and episode id of every row of the run's training episodes.

    Returns:
        latents (N, D) float32 and episode ids (N,) int64, in dataset order.
    """
    with open_training_data(run, tuple(run.model.encoder.keys), why) as ds:
        z, episode = _encoded(run, ds)  # (N_all, D), (N_all,)
        keep = torch.from_numpy(np.isin(episode.numpy(), train_episodes(run, ds)))
    return z[keep], episode[keep]


def extra_latents(run: Any, paths: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """The frozen latent and episode id (0, 1, ... over all of ``paths`` in order) of every row
    of the datasets ``paths``, encoded with the run's encoder. (N, D) float32, (N,) int64."""
    zs, episodes, offset = [], [], 0
    for path in paths:
        with _open_extra(run, path) as ds:
            z, episode = _encoded(run, ds)
            zs.append(z)
            episodes.append(episode + offset)
            offset += ds.n_episodes
    return torch.cat(zs), torch.cat(episodes)


def _open_extra(run: Any, path: str) -> Dataset:
    """An extra dataset for the head, checked against the run's env and observation keys."""
    keys, env_id = tuple(run.model.encoder.keys), run.dataset.get("env_id")
    if not Path(path).exists():
        raise ForethoughtError(
            f"--temporal-extra-data {path}: no such dataset; collect one with `forethought "
            "collect` (the same env as the run's data)"
        )
    ds = Dataset(Path(path))
    missing = [k for k in keys if k not in ds.meta.obs_keys]
    if (env_id and ds.meta.env_id != env_id) or missing:
        ds.close()
        raise ForethoughtError(
            f"--temporal-extra-data {path} holds {ds.meta.env_id} with {list(ds.meta.obs_keys)};"
            f" the run needs {env_id} with {list(keys)}: collect it from the run's env with the "
            "same --obs"
        )
    return ds


def _extra_fingerprint(run: Any, path: str) -> str:
    with _open_extra(run, path) as ds:
        return ds.fingerprint()


def fit_run_temporal(
    run: Any,
    cfg: TemporalDistanceConfig | None = None,
    verbose: bool = True,
    extra: tuple[str, ...] = (),
) -> Any:
    """``phi``: latents (..., D) -> (..., cfg.dim), fitted on the run's training episodes and
    every episode of the datasets ``extra`` (or loaded from ``RUN/heads/`` when fitted before
    with the same weights, data and settings)."""

    cfg = cfg or TemporalDistanceConfig()
    settings = dataclasses.asdict(cfg)
    if extra:  # the extra datasets' identities join the cache key (none: the key of before)
        settings["extra_data"] = [_extra_fingerprint(run, p) for p in extra]

    def fit() -> Any:
        start = time.time()
        z, episode = run_latents(run, "the temporal-distance head is fitted on it")
        if extra:
            z_more, ep_more = extra_latents(run, extra)
            z, episode = torch.cat([z, z_more]), torch.cat([episode, ep_more + episode.max() + 1])
        phi = fit_temporal_embedding(z, episode, cfg)
        if verbose:
            print(
                f"fitted the temporal-distance head on {z.shape[0]} rows "
                f"({cfg.steps} steps, {time.time() - start:.0f}s)",
                flush=True,
            )
        return phi

    return cached_mlp_head(run, "temporal-distance", settings, fit)


def fit_dataset_temporal(
    path: str,
    key: str = "state",
    cfg: TemporalDistanceConfig | None = None,
    expect_dim: int | None = None,
) -> Any:
    """``phi`` fitted on the observation ``key`` of every row of a dataset (not cached): the
    temporal goal cost of a model whose latent is that observation (TwoRoom's true simulator,
    ``expect_dim`` its latent size, checked against the observation's)."""
    if not Path(path).exists():
        raise ForethoughtError(f"no dataset at {path}; collect one with `forethought collect`")
    with Dataset(Path(path)) as ds:
        if key not in ds.meta.obs_keys:
            raise ForethoughtError(
                f"dataset {path} has no '{key}' observation (has {list(ds.meta.obs_keys)}); "
                "collect built-in envs with --obs both"
            )
        x = torch.from_numpy(ds.load(f"obs/{key}")).float().reshape(ds.n_steps, -1)  # (N, S)
        if expect_dim is not None and x.shape[1] != expect_dim:
            raise ForethoughtError(
                f"dataset {path} has a {x.shape[1]}-dim '{key}' but the model's latent has "
                f"{expect_dim} dims; give the dataset of the env the model simulates"
            )
        episode = torch.from_numpy(ds.load("episode").astype(np.int64))  # (N,)
    return fit_temporal_embedding(x, episode, cfg or TemporalDistanceConfig())
