"""``forethought train`` and ``forethought models`` through the command module (the stand-in
model is injected by monkeypatching ``train_cmd.resolve_model``)."""

from __future__ import annotations

import argparse
import json
import sys

import pytest

from forethought.cli import train_cmd
from forethought.core.errors import ForethoughtError
from tests.training.helpers import TinyLatentModel, TinyModel, read_metrics


def cli(*argv: str) -> int:
    """What ``forethought.cli.main.main`` does with these commands registered."""
    parser = argparse.ArgumentParser(prog="forethought")
    train_cmd.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except ForethoughtError as e:
        print(f"forethought: {e}", file=sys.stderr)
        return 2


@pytest.fixture
def stand_in(monkeypatch):
    built = []

    def resolve(name, preset, dataset, seed, overrides=None):
        built.append((name, preset, seed))
        return TinyModel()

    monkeypatch.setattr(train_cmd, "resolve_model", resolve)
    return built


def one_line_error(capsys, *fragments: str) -> None:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("forethought: "), lines
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_train_resume_and_refusals(linear_data, tmp_path, stand_in, capsys):
    out = str(tmp_path / "run")
    base = ("train", str(linear_data), "--out", out, "--threads", "1")
    small = ("--batch-size", "8", "--window", "6", "--log-every", "5", "--val-every", "10")
    assert (
        cli(*base, "--model", "tiny", "--preset", "xs", "--steps", "20", "--seed", "4", *small) == 0
    )
    stdout = capsys.readouterr().out
    assert "training tiny (xs)" in stdout and "trained 20 steps" in stdout
    assert stand_in == [("tiny", "xs", 4)]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["train"]["batch_size"] == 8 and config["train"]["seed"] == 4
    assert cli(*base, "--model", "tiny", "--steps", "20") == 2
    one_line_error(capsys, "pass --resume", "another --out")
    assert cli(*base, "--resume", "--steps", "30") == 0  # model, preset and settings from the run
    assert "trained 30 steps" in capsys.readouterr().out and stand_in[-1] == ("tiny", "xs", 4)
    assert read_metrics(tmp_path / "run")[-1]["step"] == 30
    assert cli(*base, "--resume", "--steps", "40", "--batch-size", "16") == 2
    one_line_error(capsys, "changed settings (batch_size 8 -> 16)")


def test_bad_arguments_are_one_line(linear_data, tmp_path, stand_in, capsys):
    out = str(tmp_path / "run")
    assert cli("train", str(linear_data), "--out", out) == 2
    one_line_error(capsys, "--model is required")
    assert (
        cli("train", str(linear_data), "--out", out, "--model", "x", "--time-budget", "soon") == 2
    )
    one_line_error(capsys, "90s, 10m, 1h")
    assert cli("train", str(tmp_path / "missing.h5"), "--out", out, "--model", "x") == 2
    one_line_error(capsys, "missing.h5")
    assert cli("train", str(linear_data), "--out", out, "--model", "x", "--lr", "-1") == 2
    one_line_error(capsys, "lr must be a positive number")


def test_encoder_share_flags(linear_data, tmp_path, stand_in, monkeypatch, capsys):
    args = ("--model", "tiny", "--steps", "10", "--batch-size", "8", "--window", "6")
    out = str(tmp_path / "run")
    assert cli("train", str(linear_data), "--out", out, *args, "--encoder-share", "0.5") == 2
    one_line_error(capsys, "model 'tiny' cannot train its predictor on cached latents")
    assert not (tmp_path / "run").exists()
    assert cli("train", str(linear_data), "--out", out, *args, "--encoder-share", "2") == 2
    one_line_error(capsys, "encoder_share must be in (0, 1)")
    monkeypatch.setattr(train_cmd, "resolve_model", lambda *a, **k: TinyLatentModel())
    shares = ("--encoder-share", "0.5", "--latent-batch-size", "64", "--latent-window", "9")
    assert cli("train", str(linear_data), "--out", out, *args, *shares, "--threads", "1") == 0
    train = json.loads((tmp_path / "run" / "config.json").read_text())["train"]
    assert (train["encoder_share"], train["latent_batch_size"], train["latent_window"]) == (
        0.5,
        64,
        9,
    )
    err = capsys.readouterr().err
    assert "step 5: encoder frozen" in err and "batches of 64 windows of 9 rows" in err


def test_time_budget_flag(linear_data, tmp_path, stand_in, capsys):
    out = str(tmp_path / "run")
    args = ("--batch-size", "8", "--window", "6", "--threads", "1")
    assert (
        cli("train", str(linear_data), "--out", out, "--model", "t", "--time-budget", "1s", *args)
        == 0
    )
    assert "for 1s" in capsys.readouterr().out
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["time_budget_s"] == 1


def test_models_lists_the_registry(capsys):
    registry = pytest.importorskip("forethought.models.registry")
    assert cli("models") == 0
    stdout = capsys.readouterr().out
    for name in registry.list_models():
        assert name in stdout


def test_a_registered_model_trains(linear_data, tmp_path, capsys):
    """The real registry path (skipped until ``forethought.models`` can be imported)."""
    registry = pytest.importorskip("forethought.models.registry")
    name = registry.list_models()[0]
    out = tmp_path / "run"
    args = ("--steps", "3", "--batch-size", "4", "--window", "4", "--threads", "1")
    assert (
        cli(
            "train", str(linear_data), "--out", str(out), "--model", name, "--preset", "tiny", *args
        )
        == 0
    )
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["name"] == name and config["model"]["data_spec"]["action_dim"] == 2
    assert read_metrics(out)[-1]["step"] == 3


def test_set_and_obs_keys_reach_the_model_config():
    overrides = train_cmd.parse_overrides(["latent_dim=16", "regularizer=vicreg"], "pixels,state")
    assert overrides == {"latent_dim": 16, "regularizer": "vicreg", "obs_keys": ("pixels", "state")}
    with pytest.raises(ForethoughtError, match="FIELD=VALUE"):
        train_cmd.parse_overrides(["latent_dim"], None)
