from __future__ import annotations

import numpy as np
import pytest

from forethought.core.errors import DatasetError
from forethought.data.check import check_dataset
from forethought.data.episode import Episode
from forethought.data.reader import Dataset
from forethought.data.writer import DatasetWriter
from tests.conftest import episode_steps, make_episode, make_meta


def test_round_trip_every_episode(small_dataset):
    with Dataset(small_dataset) as ds:
        assert ds.n_episodes == 20
        assert ds.n_steps == sum(episode_steps(i) + 1 for i in range(20))
        for i in range(20):
            got, want = ds.episode(i), make_episode(i, episode_steps(i))
            for k in want.obs:
                if k == "mission":
                    assert [s.decode() for s in got.obs[k]] == list(want.obs[k])
                else:
                    np.testing.assert_array_equal(got.obs[k], want.obs[k])
            np.testing.assert_array_equal(got.action, want.action)
            np.testing.assert_array_equal(got.reward, want.reward)
            assert (got.terminated, got.truncated, got.seed) == (want.terminated, want.truncated, i)
        first = ds.load("is_first")
        assert first.sum() == 20 and first[ds.episode_starts].all()
        np.testing.assert_array_equal(np.unique(ds.load("episode")), np.arange(20))
    assert check_dataset(small_dataset) == []


def test_final_file_compresses_images_and_resume_appends(small_dataset):
    import h5py

    with h5py.File(small_dataset) as f:
        assert f["steps/obs/pixels"].compression == "lzf"
        assert f["steps/obs/state"].shape[0] == f["commit"][1]  # compacted to the exact size
    with DatasetWriter.append_to(small_dataset) as w:
        w.append(make_episode(20, 4))
    with Dataset(small_dataset) as ds:
        assert ds.n_episodes == 21
        np.testing.assert_array_equal(
            ds.episode(20).obs["pixels"], make_episode(20, 4).obs["pixels"]
        )
        np.testing.assert_array_equal(
            ds.episode(3).obs["state"], make_episode(3, episode_steps(3)).obs["state"]
        )
    assert check_dataset(small_dataset) == []


def test_discrete_actions_round_trip(tmp_path):
    import gymnasium as gym

    meta = make_meta(gym.spaces.Box(-1, 1, (2,), np.float32), gym.spaces.Discrete(4))
    ep = Episode(
        obs={"state": np.zeros((4, 2), np.float32)},
        action=np.array([0, 3, 1, 2]),
        reward=np.zeros(4, np.float32),
        terminated=True,
        truncated=False,
    )
    with DatasetWriter.create(tmp_path / "d.h5", meta) as w:
        w.append(ep)
    with Dataset(tmp_path / "d.h5") as ds:
        assert ds.load("action").dtype == np.int64
        np.testing.assert_array_equal(ds.load("action"), [0, 3, 1, 2])


def test_refuses_to_overwrite_without_asking(small_dataset):
    with pytest.raises(DatasetError, match="already exists"):
        DatasetWriter.create(small_dataset, make_meta())


def _bad(ep: Episode, **changes) -> Episode:
    return Episode(**{**ep.__dict__, **changes})


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda e: _bad(e, obs={**e.obs, "state": e.obs["state"] * np.nan}), "NaN/inf at row 0"),
        (lambda e: _bad(e, reward=e.reward / 0.0 + 1), "NaN/inf"),
        (lambda e: _bad(e, obs={**e.obs, "state": e.obs["state"][:, :2]}), "has shape"),
        (lambda e: _bad(e, obs={k: v for k, v in e.obs.items() if k != "pixels"}), "missing"),
        (lambda e: _bad(e, obs={**e.obs, "extra": e.obs["state"]}), "unexpected"),
        (lambda e: _bad(e, obs={**e.obs, "pixels": e.obs["pixels"].astype(np.float32)}), "dtype"),
        (lambda e: _bad(e, obs={**e.obs, "mission": np.array(["x" * 40] * e.rows)}), "bytes"),
        (lambda e: _bad(e, action=e.action[:, :1]), "key 'action'"),
    ],
)
def test_bad_episode_is_refused_and_nothing_is_lost(small_dataset, change, message):
    bad = change(make_episode(99, 6))
    with DatasetWriter.append_to(small_dataset) as w:
        with pytest.raises(DatasetError, match=message) as err:
            w.append(bad)
        assert "\n" not in str(err.value) and str(small_dataset) in str(err.value)
    with Dataset(small_dataset) as ds:
        assert ds.n_episodes == 20
    assert check_dataset(small_dataset) == []


def test_append_with_another_layout_is_refused(small_dataset):
    import gymnasium as gym

    other = make_meta(gym.spaces.Box(-1, 1, (5,), np.float32))
    with pytest.raises(DatasetError, match="cannot append"):
        DatasetWriter.append_to(small_dataset, other)


def test_corrupt_and_truncated_files(tmp_path, small_dataset):
    data = small_dataset.read_bytes()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[: len(data) // 3])
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an hdf5 file at all" * 100)
    for path in (truncated, garbage, tmp_path / "missing.h5", tmp_path):
        with pytest.raises(DatasetError) as err:
            Dataset(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)
        problems = check_dataset(path)
        assert len(problems) == 1 and problems[0].where == "file"


def test_foreign_hdf5_is_named(tmp_path):
    import h5py

    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(DatasetError, match="not a forethought dataset"):
        Dataset(tmp_path / "other.h5")


def test_check_dataset_names_nan_written_behind_our_back(small_dataset):
    import h5py

    with DatasetWriter.append_to(small_dataset) as w:  # back to the plain layout, then close
        w.close(compact=False)
    with h5py.File(small_dataset, "r+") as f:
        f["steps/obs/state"][30, 1] = np.inf
        f["steps/is_first"][31] = True
    names = {p.where for p in check_dataset(small_dataset)}
    assert "is_first" in names
    with h5py.File(small_dataset, "r+") as f:
        f["steps/is_first"][31] = False
    problems = check_dataset(small_dataset)
    assert [p.where for p in problems] == ["obs/state"] and "row 30" in problems[0].what


def test_missing_key_error_says_what_to_do(small_dataset):
    with Dataset(small_dataset) as ds:
        with pytest.raises(DatasetError, match="--obs depth"):
            ds.load("obs/depth")
