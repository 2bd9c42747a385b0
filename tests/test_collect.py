from __future__ import annotations

import numpy as np
import pytest

from forethought.collect import CollectConfig, collect, episode_seed
from forethought.core.errors import DatasetError, ForethoughtError
from forethought.data.check import check_dataset
from forethought.data.reader import Dataset


def _cfg(tmp_path, name="d.h5", **kw):
    base = dict(env_id="forethought/TwoRoom-v0", out=tmp_path / name, episodes=6, max_steps=20)
    return CollectConfig(**{**base, **kw})


def test_collect_two_room_both(tmp_path):
    result = collect(_cfg(tmp_path, obs="both", workers=1))
    assert (result.episodes_total, result.steps_total) == (6, 6 * 21)
    with Dataset(result.path) as ds:
        assert ds.meta.obs_keys == ("pixels", "state")
        assert ds.meta.policy == "forethought.envs.exploration:make_explorer"
        assert ds.field_shape("obs/pixels") == (65, 65, 1)
        ep = ds.episode(2)
        assert ep.seed == episode_seed(0, 2) and ep.truncated and not ep.terminated
        # the stored action led to the stored next state (the agent moved by at most the action)
        moved = np.linalg.norm(np.diff(ep.obs["state"][:, :2], axis=0), axis=1)
        assert (moved <= np.linalg.norm(ep.action[1:], axis=1) + 1e-4).all()
    assert check_dataset(result.path) == []


def test_same_seed_same_file_whatever_the_workers_and_resumes(tmp_path):
    one = collect(_cfg(tmp_path, "one.h5", workers=1, episodes=8))
    two = collect(_cfg(tmp_path, "two.h5", workers=2, episodes=5))
    two = collect(_cfg(tmp_path, "two.h5", workers=2, episodes=8, resume=True))
    assert two.episodes_added == 3
    with Dataset(one.path) as a, Dataset(two.path) as b:
        assert a.fingerprint() == b.fingerprint()
        np.testing.assert_array_equal(a.load("obs/state"), b.load("obs/state"))
    other = collect(_cfg(tmp_path, "other.h5", workers=1, episodes=8, seed=1))
    with Dataset(one.path) as a, Dataset(other.path) as c:
        assert a.fingerprint() != c.fingerprint()


def test_resume_refuses_other_settings_and_existing_files(tmp_path):
    collect(_cfg(tmp_path, workers=1))
    with pytest.raises(ForethoughtError, match="already exists; pass --resume"):
        collect(_cfg(tmp_path, workers=1))
    with pytest.raises(ForethoughtError, match="--resume needs the settings"):
        collect(_cfg(tmp_path, workers=1, seed=3, resume=True, episodes=9))
    with pytest.raises(DatasetError, match="cannot append"):
        collect(_cfg(tmp_path, workers=1, obs="both", resume=True, episodes=9))
    with Dataset(tmp_path / "d.h5") as ds:
        assert ds.n_episodes == 6  # nothing lost


EPISODES_STARTED = []


class NaNPolicy:
    """Feeds NaN actions in the third episode (Pendulum then returns NaN observations)."""

    def __init__(self, observation_space, action_space):
        pass

    def reset(self, obs, info, rng):
        EPISODES_STARTED.append(1)

    def act(self, obs, info):
        return np.array([np.nan if len(EPISODES_STARTED) == 3 else 0.5], dtype=np.float32)


def make_nan_policy(observation_space, action_space):
    return NaNPolicy(observation_space, action_space)


def test_nan_observation_stops_with_a_clear_error_and_keeps_finished_episodes(tmp_path):
    EPISODES_STARTED.clear()
    cfg = CollectConfig(
        "Pendulum-v1",
        tmp_path / "p.h5",
        episodes=5,
        max_steps=10,
        workers=1,
        policy="tests.test_collect:make_nan_policy",
    )
    with pytest.raises(DatasetError, match="NaN/inf at row 1"):
        collect(cfg)
    with Dataset(cfg.out) as ds:
        assert ds.n_episodes == 2
    assert check_dataset(cfg.out) == []


def test_policy_errors(tmp_path):
    with pytest.raises(ForethoughtError, match="cannot import module"):
        collect(_cfg(tmp_path, policy="nope.module:make"))
    with pytest.raises(ForethoughtError, match="has no callable"):
        collect(_cfg(tmp_path, policy="numpy:not_there"))
    with pytest.raises(ForethoughtError, match="MODULE:CALLABLE"):
        collect(_cfg(tmp_path, policy="bogus"))
    with pytest.raises(ForethoughtError, match="--episodes must be at least 1"):
        _cfg(tmp_path, episodes=0)


def test_discrete_and_text_envs(tmp_path):
    r = collect(CollectConfig("BabyAI-GoToRedBall-v0", tmp_path / "b.h5", episodes=3, workers=1))
    with Dataset(r.path) as ds:
        assert ds.field_dtype("action").kind == "i"
        assert b"red ball" in ds.load("obs/mission")[0]
    assert check_dataset(r.path) == []
