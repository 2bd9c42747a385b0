"""The held-out split: deterministic from the seed, disjoint, and never sampled for training."""

from __future__ import annotations

import numpy as np
import pytest

from forethought.core.errors import ForethoughtError
from forethought.data.reader import Dataset
from forethought.training import split_episodes
from forethought.training.sampling import make_samplers, restore_sampler, sampler_state
from tests.training.helpers import small_cfg


def test_split_is_deterministic_and_disjoint():
    a, b = split_episodes(50, 0.2, seed=1), split_episodes(50, 0.2, seed=1)
    assert np.array_equal(a.val, b.val) and a.val.size == 10 and a.train.size == 40
    assert not set(a.train) & set(a.val) and set(a.train) | set(a.val) == set(range(50))
    assert not np.array_equal(split_episodes(50, 0.2, seed=2).val, a.val)
    assert split_episodes(3, 0.01, seed=0).val.size == 1  # at least one held out
    assert split_episodes(5, 0.0, seed=0).val.size == 0
    with pytest.raises(ForethoughtError, match="too few for a validation split"):
        split_episodes(1, 0.1, seed=0)


def test_training_never_sees_held_out_episodes(linear_data):
    cfg = small_cfg(val_fraction=0.25)
    with Dataset(linear_data) as ds:
        split = split_episodes(ds.n_episodes, cfg.val_fraction, cfg.seed)
        train, val = make_samplers(ds, cfg, split)
        episode = ds.load("episode")
        seen = {int(episode[s]) for _ in range(50) for s in train.sample().start.tolist()}
        assert seen <= set(split.train.tolist()) and len(seen) > 1
        assert {int(episode[s]) for s in val.sample().start.tolist()} <= set(split.val.tolist())
        state = sampler_state(train)
        expected = train.sample().start
        restore_sampler(train, state)
        assert np.array_equal(train.sample().start, expected)
