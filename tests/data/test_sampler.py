from __future__ import annotations

import numpy as np
import pytest
import torch

from forethought.core.errors import DatasetError
from forethought.data.reader import Dataset
from forethought.data.sampler import WindowSampler, valid_window_starts


def test_valid_window_starts_by_hand():
    starts = valid_window_starts(np.array([0, 5, 7]), np.array([5, 2, 4]), window=3)
    np.testing.assert_array_equal(starts, [0, 1, 2, 7, 8])


@pytest.mark.parametrize("in_memory", [True, False])
def test_windows_never_cross_an_episode(small_dataset, in_memory):
    with Dataset(small_dataset) as ds:
        episode = ds.load("episode")
        state = ds.load("obs/state")
        sampler = WindowSampler(
            ds, window=6, batch_size=64, in_memory=in_memory, span_rows=40, seed=1
        )
        seen = set()
        for _ in range(150):
            b = sampler.sample()
            assert b.obs["state"].shape == (64, 6, 3) and b.obs["pixels"].dtype == torch.uint8
            assert b.action.shape == (64, 6, 2) and b.reward.shape == (64, 6)
            for j, s in enumerate(b.start.tolist()):
                assert len(set(episode[s : s + 6])) == 1  # one episode per window
                np.testing.assert_array_equal(b.obs["state"][j].numpy(), state[s : s + 6])
                assert not b.is_first[j, 1:].any()
                seen.add(s)
        # Every valid start is reachable, in both modes.
        assert seen == set(valid_window_starts(ds.episode_starts, ds.episode_lengths, 6).tolist())


def test_chunked_sampling_is_close_to_uniform_over_episodes(small_dataset):
    with Dataset(small_dataset) as ds:
        sampler = WindowSampler(ds, window=4, batch_size=256, in_memory=False, span_rows=30, seed=0)
        counts = np.zeros(ds.n_episodes)
        episode = ds.load("episode")
        for _ in range(200):
            np.add.at(counts, episode[sampler.sample().start.numpy()], 1)
        per_window = counts / np.maximum(ds.episode_lengths - 3, 1)
        assert per_window[2:].min() > 0.5 * per_window[2:].mean()


def test_same_seed_same_batches(small_dataset):
    with Dataset(small_dataset) as ds:
        a = WindowSampler(ds, 5, 8, seed=3).sample()
        b = WindowSampler(ds, 5, 8, seed=3).sample()
        assert torch.equal(a.start, b.start)


def test_episode_subset_and_short_episodes(small_dataset):
    with Dataset(small_dataset) as ds:
        sampler = WindowSampler(ds, window=4, batch_size=32, episodes=np.array([2, 5]))
        episode = ds.load("episode")
        assert set(episode[sampler.sample().start.numpy()]) <= {2, 5}
        with pytest.raises(DatasetError, match="shorter window"):
            WindowSampler(ds, window=500, batch_size=4)
        with pytest.raises(DatasetError, match="missing"):
            WindowSampler(ds, window=4, batch_size=4, obs_keys=("depth",))
