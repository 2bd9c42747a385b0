"""The frozen-encoder phase: train the predictor alone on latents cached once for the dataset.

A pixel model's step is mostly its image encoder: on 2 cores ``keypoint-mlp`` takes 250 ms per
batch of 64 windows, so in 15 minutes its predictor sees about 1.3 M transitions, where the same
predictor on state sees 50 M. With ``TrainConfig.encoder_share`` the trainer trains end to end for
that share of the budget, then freezes the encoder, encodes every row of the dataset once (the
cache), and spends the rest of the budget on the predictor with windows of cached latents: a
step then costs what a vector model's does, with batches of ``latent_batch_size`` windows.

A model takes part by having the three methods of :class:`LatentPhaseModel`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from forethought.core.errors import ForethoughtError
from forethought.data.reader import Dataset
from forethought.data.sampler import WindowBatch, valid_window_starts
from forethought.models.base import Obs
from forethought.models.spec import RowSource

CACHE_CHUNK_ROWS = 4096
"""Rows read and encoded at a time while building the cache (bounds memory for image data)."""


@runtime_checkable
class LatentPhaseModel(Protocol):
    """A model whose predictor can train on its frozen encoder's latents."""

    def freeze_encoder(self) -> None:
        """Stop training everything the cached latents depend on (and whatever only serves it)."""
        ...

    def encode_goal(self, obs: Obs) -> Tensor:
        """The latent of each observation. (N, D)."""
        ...

    def latent_loss(
        self, z: Tensor, action: Tensor, is_first: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """The predictor's loss on a window of cached latents.

        Args:
            z: (B, T, D) latents; action: (B, T, A) or (B, T) the actions into each row;
            is_first: (B, T) episode starts.
        """
        ...


def require_latent_phase(model: object, model_name: str) -> None:
    """Refuse, in one line, a frozen-encoder phase for a model that has none."""
    if not isinstance(model, LatentPhaseModel):
        raise ForethoughtError(
            f"model '{model_name}' cannot train its predictor on cached latents (it has no "
            "freeze_encoder / latent_loss); drop --encoder-share"
        )


def require_latent_windows(dataset: Dataset, episodes: np.ndarray, window: int) -> np.ndarray:
    """The episodes with at least ``window`` rows; refuse in one line when there are none."""
    eps = episodes[dataset.episode_lengths[episodes] >= window]
    if eps.size == 0:
        longest = int(dataset.episode_lengths[episodes].max(initial=0))
        raise ForethoughtError(
            f"no training episode has the {window} rows a latent window needs (longest: "
            f"{longest}); use a shorter --latent-window"
        )
    return eps


@dataclass(frozen=True)
class LatentBatch:
    """B windows of T rows of cached latents, with the actions and episode starts."""

    z: Tensor  # (B, T, D) float32
    action: Tensor  # (B, T, A) float32 or (B, T) int64
    is_first: Tensor  # (B, T) bool

    def to(self, device: torch.device | str) -> LatentBatch:
        return LatentBatch(self.z.to(device), self.action.to(device), self.is_first.to(device))


@torch.no_grad()
def cache_latents(
    model: LatentPhaseModel, dataset: RowSource, obs_keys: tuple[str, ...], device: torch.device
) -> Tensor:
    """The latent of every row of ``dataset``, encoded in chunks. (N, D) float32 on the CPU.

    The chunking is fixed (:data:`CACHE_CHUNK_ROWS`), so a resumed run rebuilds the same cache
    from the same weights bit for bit. Each chunk is written into one tensor allocated once: a
    small result kept per chunk pinned the heap above that chunk's freed temporaries, and with
    freed memory kept (``core/allocator.py``) a 60,000-row scratch cache grew to 3.8 GB that way
    against 0.8 GB written in place.
    """
    cache: Tensor | None = None
    for lo in range(0, dataset.n_steps, CACHE_CHUNK_ROWS):
        hi = min(lo + CACHE_CHUNK_ROWS, dataset.n_steps)
        obs = {k: torch.from_numpy(dataset.read(f"obs/{k}", lo, hi)).to(device) for k in obs_keys}
        z = model.encode_goal(obs)  # (chunk, D)
        if cache is None:
            cache = torch.empty(dataset.n_steps, z.shape[-1])
        cache[lo:hi] = z.float().cpu()
    return cache if cache is not None else torch.empty(0, 0)


@torch.no_grad()
def encode_windows(
    model: LatentPhaseModel, batch: WindowBatch | LatentBatch, device: torch.device
) -> LatentBatch:
    """A batch of observation windows as the same windows of latents (kept on the CPU)."""
    if isinstance(batch, LatentBatch):
        return batch
    b, t = batch.is_first.shape
    obs = {k: v.flatten(0, 1).to(device) for k, v in batch.obs.items()}
    z = model.encode_goal(obs).float().cpu().reshape(b, t, -1)  # (B, T, D)
    return LatentBatch(z, batch.action, batch.is_first)


class LatentWindowSampler:
    """Random windows of T rows of cached latents inside the given episodes (as the
    :class:`~forethought.data.sampler.WindowSampler` draws them, from its own generator).

    Args:
        latents: (N, D) one latent per dataset row.
        dataset: the dataset the latents were encoded from (actions, episode bounds).
        episodes: the episodes to draw windows from (those shorter than ``window`` are skipped).
        window: T, rows per window; batch_size: B, windows per batch; seed: the generator's seed.
    """

    in_memory = True  # for :func:`~forethought.training.sampling.sampler_state`

    def __init__(
        self,
        latents: Tensor,
        dataset: Dataset,
        episodes: np.ndarray,
        window: int,
        batch_size: int,
        seed: int,
    ) -> None:
        self.latents, self.window, self.batch_size = latents, window, batch_size
        action = dataset.load("action")
        self.action = torch.from_numpy(action.astype(np.float32) if action.dtype.kind == "f"
                                       else action.astype(np.int64))  # fmt: skip
        self.is_first = torch.from_numpy(dataset.load("is_first").astype(bool))
        eps = require_latent_windows(dataset, episodes, window)
        self._starts = valid_window_starts(
            dataset.episode_starts[eps], dataset.episode_lengths[eps], window
        )
        self._rng = np.random.default_rng(seed)

    @property
    def n_windows(self) -> int:
        return int(self._starts.size)

    def rng_state(self) -> dict:
        return self._rng.bit_generator.state

    def set_rng_state(self, state: dict) -> None:
        self._rng.bit_generator.state = state

    def sample(self) -> LatentBatch:
        """One batch of windows, drawn uniformly with replacement."""
        starts = self._starts[self._rng.integers(0, self._starts.size, self.batch_size)]
        rows = torch.from_numpy(starts[:, None] + np.arange(self.window))  # (B, T)
        return LatentBatch(self.latents[rows], self.action[rows], self.is_first[rows])
