"""A trained registry model comes back from its run directory with the same weights."""

from __future__ import annotations

import json

import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.data.reader import Dataset
from forethought.models import DataSpec, build_model
from forethought.training import TrainConfig, load_run, train


def test_load_run_rebuilds_the_trained_model(linear_data, tmp_path):
    torch.set_num_threads(1)
    cfg = TrainConfig(steps=4, batch_size=4, window=4, val_every=2, log_every=2, warmup_steps=1)
    train(
        linear_data,
        tmp_path / "run",
        cfg,
        lambda ds: build_model("jepa", "tiny", DataSpec.from_dataset(ds), latent_dim=8),
        model_name="jepa",
        preset="tiny",
        progress=False,
    )
    loaded = load_run(tmp_path / "run")
    assert loaded.info.step == 4 and loaded.info.model_name == "jepa"
    assert loaded.model.config.latent_dim == 8 and not loaded.model.training
    assert loaded.dataset["env_id"]
    with Dataset(linear_data) as ds:
        obs = {"state": torch.as_tensor(ds.episode(0).obs["state"][:3])}
    again = load_run(tmp_path / "run").model
    assert torch.equal(loaded.model.encode_goal(obs), again.encode_goal(obs))


def test_weights_of_another_shape_are_one_line_errors(linear_data, tmp_path):
    torch.set_num_threads(1)
    cfg = TrainConfig(steps=2, batch_size=4, window=4, val_every=2, log_every=2, warmup_steps=1)
    build = lambda ds: build_model("obs-mlp", "tiny", DataSpec.from_dataset(ds))  # noqa: E731
    train(
        linear_data,
        tmp_path / "run",
        cfg,
        build,
        model_name="obs-mlp",
        preset="tiny",
        progress=False,
    )
    (header,) = (tmp_path / "run" / "checkpoints").glob("step_*.json")
    meta = json.loads(header.read_text())
    meta["model_config"]["width"] = 64  # as if another version had built it wider
    header.write_text(json.dumps(meta))
    with pytest.raises(ForethoughtError, match="weights do not fit model 'obs-mlp'.*size mismatch"):
        load_run(tmp_path / "run")


def test_load_run_refuses_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(ForethoughtError, match="not a run directory"):
        load_run(tmp_path)
