"""Minari and NPZ export/import: round trips, Minari DataCollector datasets, bad inputs."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from forethought.core.errors import DatasetError, MissingExtraError
from forethought.core.spaces import action_field, obs_fields, space_to_json
from forethought.data import interop
from forethought.data.episode import Episode
from forethought.data.meta import DatasetMeta
from forethought.data.minari_io import export_minari, import_minari
from forethought.data.npz_io import export_npz, import_npz
from forethought.data.reader import Dataset
from forethought.data.writer import DatasetWriter

try:
    import minari
except ImportError:  # the NPZ tests still run
    minari = None
needs_minari = pytest.mark.skipif(minari is None, reason="minari is not installed")

MISSIONS = ["go to the red ball", "pick up the key, then open the door!", "get to the goal"]
STEPS = [5, 1, 7]
FLAGS = [(True, False), (False, True), (False, False)]  # (terminated, truncated)
SEEDS = [3, -1, 2**40]

LAYOUTS: dict[str, tuple[gym.Space, gym.Space, str]] = {
    # name: (observation space, action space, env id)
    "vector": (
        gym.spaces.Box(-np.inf, np.inf, (4,), np.float32),
        gym.spaces.Discrete(2),
        "CartPole-v1",
    ),
    "image": (
        gym.spaces.Box(0, 255, (8, 8, 1), np.uint8),
        gym.spaces.Box(-1, 1, (2,), np.float32),
        "test/Unregistered-v0",
    ),
    "dict": (
        gym.spaces.Dict(
            {
                "pos": gym.spaces.Box(-5, 5, (2,), np.float32),
                "cam": gym.spaces.Dict({"rgb": gym.spaces.Box(0, 255, (32, 32, 3), np.uint8)}),
                "mission": gym.spaces.Text(max_length=64),
                "dir": gym.spaces.Discrete(4),
            }
        ),
        gym.spaces.Discrete(5),
        "test/DictEnv-v0",
    ),
}


@pytest.fixture(autouse=True)
def _offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))


@pytest.fixture
def tree_util() -> None:
    """Minari's DataCollector needs jax (the ``minari[create]`` extra, part of ``dev``)."""
    pytest.importorskip("jax.tree_util", reason="Minari's DataCollector needs minari[create]")


# ------------------------------------------------------------------ helpers


def _field_values(rng: np.random.Generator, spec, space: gym.Space, rows: int) -> np.ndarray:
    if spec.is_text:
        return np.array(
            [MISSIONS[i] for i in rng.integers(0, len(MISSIONS), rows)], dtype=spec.dtype
        )
    if isinstance(space, gym.spaces.Discrete):
        return rng.integers(0, space.n, rows).astype(np.int64)
    if np.dtype(spec.dtype) == np.uint8:
        return rng.integers(0, 256, (rows, *spec.shape), dtype=np.uint8)
    return rng.normal(size=(rows, *spec.shape)).astype(spec.dtype)


def _leaf(space: gym.Space, key: str) -> gym.Space:
    if not isinstance(space, gym.spaces.Dict):
        return space
    for part in key.split("/"):
        space = space[part]
    return space


def make_dataset(path: Path, layout: str) -> Path:
    obs_space, act_space, env_id = LAYOUTS[layout]
    fields = tuple(obs_fields(obs_space))
    meta = DatasetMeta(
        env_id=env_id,
        obs_fields=fields,
        action=action_field(act_space),
        observation_space=space_to_json(obs_space),
        action_space=space_to_json(act_space),
        policy="random",
        seed=7,
        obs_mode="pixels" if layout == "image" else "state",
        max_steps=50,
    )
    rng = np.random.default_rng(0)
    with DatasetWriter.create(path, meta) as w:
        for steps, (term, trunc), seed in zip(STEPS, FLAGS, SEEDS, strict=True):
            rows = steps + 1
            obs = {f.key: _field_values(rng, f, _leaf(obs_space, f.key), rows) for f in fields}
            if isinstance(act_space, gym.spaces.Discrete):
                action = rng.integers(0, act_space.n, rows)
            else:
                action = rng.uniform(-1, 1, (rows, *act_space.shape)).astype(np.float32)
            action[0] = 0
            reward = rng.normal(size=rows).astype(np.float32)
            reward[0] = 0
            w.append(Episode(obs, action, reward, term, trunc, seed))
    return path


def assert_same_data(a: Dataset, b: Dataset, seeds: bool = True) -> None:
    assert set(a.meta.obs_keys) == set(b.meta.obs_keys)
    assert {f.key: f for f in a.meta.obs_fields} == {f.key: f for f in b.meta.obs_fields}
    assert a.meta.action == b.meta.action
    for key in a.keys:
        x, y = a.load(key), b.load(key)
        assert x.dtype == y.dtype, key
        np.testing.assert_array_equal(x, y, err_msg=key)
    np.testing.assert_array_equal(a.episode_lengths, b.episode_lengths)
    if seeds:
        np.testing.assert_array_equal(a.episode_seeds, b.episode_seeds)


def one_line_error(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


# ------------------------------------------------------------------ Minari export / import


@needs_minari
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_minari_round_trip(tmp_path: Path, layout: str) -> None:
    src = make_dataset(tmp_path / "src.h5", layout)
    dataset_id = f"forethought/rt-{layout}-v0"
    assert export_minari(src, dataset_id) == dataset_id

    mds = minari.load_dataset(dataset_id)
    assert mds.total_episodes == 3 and mds.total_steps == sum(STEPS)
    with Dataset(src) as ours:
        first = next(iter(mds.iterate_episodes()))
        ep = ours.episode(0)
        assert len(first.actions) == len(first.rewards) == ep.steps
        np.testing.assert_array_equal(first.actions, ep.action[1:])
        np.testing.assert_allclose(first.rewards, ep.reward[1:])
        assert first.terminations[-1] and not first.truncations[-1]
    if layout == "dict":
        space = mds.observation_space
        assert isinstance(space, gym.spaces.Dict) and isinstance(space["cam"], gym.spaces.Dict)
        assert isinstance(space["mission"], gym.spaces.Text)
        assert first.observations["mission"][0] in MISSIONS  # text comes back as str
        assert first.observations["cam"]["rgb"].dtype == np.uint8
    else:
        assert isinstance(mds.observation_space, gym.spaces.Box)
    env_id = LAYOUTS[layout][2]
    assert (mds.env_spec is not None) == (env_id in gym.registry)

    out = import_minari(dataset_id, tmp_path / "back.h5")
    with Dataset(src) as a, Dataset(out) as b:
        assert_same_data(a, b)  # images 32x32 and up too: no JPEG loss
        assert b.meta.env_id == env_id and b.meta.obs_mode == a.meta.obs_mode
        assert b.meta.policy == f"minari:{dataset_id}"
        assert b.meta.max_steps == 50


@needs_minari
def test_minari_data_path_argument(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_dataset(tmp_path / "src.h5", "vector")
    root = tmp_path / "elsewhere"
    export_minari(src, "elsewhere-v1", data_path=root)
    assert (root / "elsewhere-v1" / "data").is_dir()
    assert not (tmp_path / "minari" / "elsewhere-v1").exists()
    monkeypatch.delenv("MINARI_DATASETS_PATH")
    out = import_minari("elsewhere-v1", tmp_path / "back.h5", data_path=root, env_id="Mine-v0")
    assert "MINARI_DATASETS_PATH" not in os.environ  # restored
    with Dataset(src) as a, Dataset(out) as b:
        assert_same_data(a, b)
        assert b.meta.env_id == "Mine-v0"


@needs_minari
def test_import_minari_from_data_collector(tmp_path: Path, tree_util: None) -> None:
    env = minari.DataCollector(gym.make("CartPole-v1"))
    env.action_space.seed(0)
    env.reset(seed=0)
    episodes = 0
    while episodes < 3:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            episodes += 1
            env.reset()
    with pytest.warns(UserWarning):  # Minari warns about the missing author, e-mail, ...
        env.create_dataset("cartpole/random-v0", algorithm_name="random")
    env.close()

    out = import_minari("cartpole/random-v0", tmp_path / "cartpole.h5")
    mds = minari.load_dataset("cartpole/random-v0")
    with Dataset(out) as ds:
        assert ds.n_episodes == 3 and ds.n_steps == mds.total_steps + 3
        assert ds.meta.env_id == "CartPole-v1" and ds.meta.max_steps == 500
        assert ds.meta.obs_keys == ("state",) and ds.meta.action.dtype == "int64"
        assert ds.meta.policy == "minari:cartpole/random-v0"
        assert ds.episode_seeds[0] == 0
        for i, e in enumerate(mds.iterate_episodes()):
            ep = ds.episode(i)
            assert ep.steps == len(e.rewards)
            np.testing.assert_array_equal(ep.obs["state"], e.observations)
            np.testing.assert_array_equal(ep.action, np.concatenate([[0], e.actions]))
            np.testing.assert_array_equal(ep.reward, np.concatenate([[0], e.rewards]))
            assert ep.terminated == bool(e.terminations[-1])
            assert ep.truncated == bool(e.truncations[-1])


@needs_minari
def test_dict_text_observations_from_data_collector(tmp_path: Path, tree_util: None) -> None:
    pytest.importorskip("minigrid")  # importing it registers the MiniGrid envs

    base = gym.make("MiniGrid-Empty-5x5-v0", max_steps=6)
    text = gym.spaces.Text(max_length=64, charset=gym.spaces.text.alphanumeric | {" "})
    space = gym.spaces.Dict({**base.observation_space.spaces, "mission": text})
    env = minari.DataCollector(base, observation_space=space)
    env.action_space.seed(1)
    env.reset(seed=1)
    for _ in range(2):
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            done = terminated or truncated
        env.reset()
    with pytest.warns(UserWarning):
        env.create_dataset("minigrid/empty-v0")
    env.close()

    out = import_minari("minigrid/empty-v0", tmp_path / "grid.h5")
    mds = minari.load_dataset("minigrid/empty-v0")
    with Dataset(out) as ds:
        assert set(ds.meta.obs_keys) == {"direction", "image", "mission"}
        assert ds.meta.field_for("mission").dtype == "|S64"
        assert ds.n_episodes == 2
        for i, e in enumerate(mds.iterate_episodes()):
            ep = ds.episode(i)
            assert [m.decode() for m in ep.obs["mission"]] == list(e.observations["mission"])
            np.testing.assert_array_equal(ep.obs["image"], e.observations["image"])
            np.testing.assert_array_equal(ep.obs["direction"], e.observations["direction"])

    # and back out again: ours -> Minari -> ours keeps the text and the Dict layout
    export_minari(out, "minigrid/empty-again-v0")
    again = import_minari("minigrid/empty-again-v0", tmp_path / "again.h5")
    with Dataset(out) as a, Dataset(again) as b:
        assert_same_data(a, b)


@needs_minari
def test_import_minari_unknown_id_lists_local_ids(tmp_path: Path) -> None:
    export_minari(make_dataset(tmp_path / "src.h5", "vector"), "present-v0")
    with pytest.raises(DatasetError) as exc:
        import_minari("absent/thing-v0", tmp_path / "out.h5")
    msg = one_line_error(exc)
    assert "absent/thing-v0" in msg and "present-v0" in msg
    assert not (tmp_path / "out.h5").exists()


@needs_minari
def test_export_minari_refuses_taken_or_bad_ids(tmp_path: Path) -> None:
    src = make_dataset(tmp_path / "src.h5", "vector")
    export_minari(src, "taken-v0")
    with pytest.raises(DatasetError, match="already exists") as exc:
        export_minari(src, "taken-v0")
    one_line_error(exc)
    with pytest.raises(DatasetError, match="bad Minari dataset id") as exc:
        export_minari(src, "no spaces allowed!")
    one_line_error(exc)
    assert minari.load_dataset("taken-v0").total_episodes == 3  # untouched


@needs_minari
def test_import_minari_refuses_existing_out(tmp_path: Path) -> None:
    src = make_dataset(tmp_path / "src.h5", "vector")
    export_minari(src, "exists-v0")
    with pytest.raises(DatasetError, match="already exists"):
        import_minari("exists-v0", src)
    with Dataset(src) as ds:
        assert ds.meta.policy == "random"  # not replaced


def test_missing_minari_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_dataset(tmp_path / "src.h5", "vector")
    monkeypatch.setitem(sys.modules, "minari", None)  # makes `import minari` raise ImportError
    with pytest.raises(MissingExtraError, match=r"forethought\[minari\]"):
        export_minari(src, "x-v0")
    with pytest.raises(MissingExtraError, match="Minari import/export"):
        import_minari("x-v0", tmp_path / "out.h5")


def test_minari_is_imported_only_when_used() -> None:
    code = (
        "import sys, forethought.data.interop as i, forethought.data.minari_io;"
        "assert 'minari' not in sys.modules; assert i.export_npz and i.import_minari;"
        "assert 'minari' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert interop.export_minari is export_minari and interop.import_npz is import_npz
    with pytest.raises(AttributeError):
        interop.nothing_here  # noqa: B018


# ------------------------------------------------------------------ NPZ


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_npz_round_trip(tmp_path: Path, layout: str) -> None:
    src = make_dataset(tmp_path / "src.h5", layout)
    archive = export_npz(src, tmp_path / "data.archive")
    assert archive == tmp_path / "data.archive"  # no .npz suffix added
    with np.load(archive, allow_pickle=False) as z:
        obs_keys = {f"obs/{f.key}" for f in obs_fields(LAYOUTS[layout][0])}
        steps = {"action", "reward", "is_first", "terminated", "truncated", "episode"}
        assert set(z.files) == obs_keys | steps | {"metadata"}
        assert z["metadata"].ndim == 0 and z["metadata"].dtype.kind == "U"
        assert z["is_first"].sum() == 3 and len(z["action"]) == sum(STEPS) + 3
    out = import_npz(archive, tmp_path / "back.h5")
    with Dataset(src) as a, Dataset(out) as b:
        assert_same_data(a, b, seeds=False)  # the npz layout has no per-episode seeds
        assert b.meta.env_id == a.meta.env_id and b.meta.obs_fields == a.meta.obs_fields


@pytest.mark.parametrize("layout", ["vector", "dict"])
def test_npz_without_metadata_infers_layout(tmp_path: Path, layout: str) -> None:
    src = make_dataset(tmp_path / "src.h5", layout)
    with np.load(export_npz(src, tmp_path / "full.npz")) as z:
        arrays = {k: z[k] for k in z.files if k not in ("metadata", "is_first")}
    np.savez(tmp_path / "bare.npz", **arrays)  # boundaries from `episode` only

    out = import_npz(tmp_path / "bare.npz", tmp_path / "inferred.h5")
    with Dataset(src) as a, Dataset(out) as b:
        assert b.meta.env_id == "unknown"
        assert_same_data(a, b, seeds=False)
        assert b.meta.action_space["type"] == "Discrete"
    named = import_npz(tmp_path / "bare.npz", tmp_path / "named.h5", env_id="My-v0")
    with Dataset(named) as b:
        assert b.meta.env_id == "My-v0"


def _bad_archive(tmp_path: Path, **changes) -> Path:
    rows = 6
    arrays = {
        "obs/state": np.zeros((rows, 3), np.float32),
        "action": np.zeros(rows, np.int64),
        "reward": np.zeros(rows, np.float32),
        "is_first": np.array([1, 0, 0, 1, 0, 0], bool),
    }
    arrays.update(changes)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("changes", "expect"),
    [
        ({"action": None}, "'action' is missing"),
        ({"reward": np.zeros(5, np.float32)}, "'reward' has 5 rows"),
        ({"obs/state": np.zeros((7, 3), np.float32)}, "'obs/state' has 7 rows"),
        ({"is_first": np.array([0, 1, 0, 1, 0, 0], bool)}, "'is_first' does not start"),
        ({"is_first": None}, "'is_first' or 'episode'"),
        ({"obs/state": None}, "no observation arrays"),
        ({"obs/mixed": np.array([1, "a", None, 2, 3, 4], object)}, "'obs/mixed'"),
        ({"metadata": np.array("{not json")}, "metadata"),
    ],
)
def test_import_npz_rejects_bad_archives(tmp_path: Path, changes: dict, expect: str) -> None:
    path = _bad_archive(tmp_path, **changes)
    with pytest.raises(DatasetError) as exc:
        import_npz(path, tmp_path / "out.h5")
    msg = one_line_error(exc)
    assert expect in msg and "bad.npz" in msg
    assert not (tmp_path / "out.h5").exists()
    assert list(tmp_path.glob(".out.h5*")) == []


def test_import_npz_rejects_non_zip_and_missing_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.npz"
    text.write_text("not an archive")
    with pytest.raises(DatasetError, match="not an .npz archive") as exc:
        import_npz(text, tmp_path / "out.h5")
    assert "notes.npz" in one_line_error(exc)
    npy = tmp_path / "single.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(DatasetError, match="not an .npz archive"):
        import_npz(npy, tmp_path / "out.h5")
    truncated = tmp_path / "cut.npz"
    truncated.write_bytes(_bad_archive(tmp_path).read_bytes()[:200])
    with pytest.raises(DatasetError, match="cut.npz"):
        import_npz(truncated, tmp_path / "out.h5")
    with pytest.raises(DatasetError, match="no such file"):
        import_npz(tmp_path / "missing.npz", tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


def test_import_npz_unicode_text_and_errors_name_the_output(tmp_path: Path) -> None:
    arrays = {
        "obs/mission": np.array(["héllo wörld", "a", "b"]),  # numpy "<U" strings, not bytes
        "action": np.array([[0.0], [0.5], [0.0]], np.float32),
        "reward": np.zeros(3, np.float32),
        "is_first": np.array([True, False, True]),
    }
    np.savez(tmp_path / "text.npz", **arrays)
    with Dataset(import_npz(tmp_path / "text.npz", tmp_path / "text.h5")) as ds:
        assert [s.decode() for s in ds.load("obs/mission")] == ["héllo wörld", "a", "b"]
        assert ds.meta.action_space["type"] == "Box" and list(ds.episode_lengths) == [2, 1]
    arrays["obs/mission"] = np.array([[0.0], [np.nan], [1.0]])
    np.savez(tmp_path / "nan.npz", **arrays)
    with pytest.raises(DatasetError, match="NaN") as exc:
        import_npz(tmp_path / "nan.npz", tmp_path / "nan.h5")
    assert "nan.h5" in one_line_error(exc) and "importing" not in str(exc.value)
    assert not (tmp_path / "nan.h5").exists()


def test_import_npz_metadata_must_match_arrays(tmp_path: Path) -> None:
    src = make_dataset(tmp_path / "src.h5", "vector")
    with np.load(export_npz(src, tmp_path / "full.npz")) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["obs/extra"] = arrays.pop("obs/state")
    np.savez(tmp_path / "renamed.npz", **arrays)
    with pytest.raises(DatasetError, match="do not match the metadata"):
        import_npz(tmp_path / "renamed.npz", tmp_path / "out.h5")


def test_export_npz_refuses_to_overwrite(tmp_path: Path) -> None:
    src = make_dataset(tmp_path / "src.h5", "image")
    export_npz(src, tmp_path / "a.npz")
    with pytest.raises(DatasetError, match="already exists"):
        export_npz(src, tmp_path / "a.npz")
    with Dataset(src) as ds:  # an open Dataset works as well as a path
        export_npz(ds, tmp_path / "a.npz", overwrite=True)
    assert zipfile.is_zipfile(tmp_path / "a.npz")
