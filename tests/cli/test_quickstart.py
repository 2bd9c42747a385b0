"""``forethought quickstart``: every stage runs and the summary points at the report."""

from __future__ import annotations

import argparse
import json

import pytest

from forethought.cli import quickstart_cmd
from forethought.cli.main import main

TINY = [
    "--episodes",
    "6",
    "--heldout-episodes",
    "2",
    "--train-time",
    "3s",
    "--preset",
    "tiny",
    "--pairs",
    "1",
    "--planner-samples",
    "8",
    "--planner-iterations",
    "1",
    "--videos",
    "0",
]


@pytest.mark.slow  # about 100 s: five real stages, tiny settings
def test_quickstart_runs_every_stage_and_prints_the_table(tmp_path, capsys):
    out = tmp_path / "qs"
    assert main(["quickstart", "--out", str(out), *TINY]) == 0
    text = capsys.readouterr().out
    for stage in ("collect", "collect held-out", "train", "evaluate", "report"):
        assert f"== {stage}: forethought " in text
    assert "16-step position error on held-out episodes" in text
    assert "planning success" in text and "(95% Wilson)" in text
    assert f"report: {out / 'run' / 'report.html'}" in text
    metrics = json.loads((out / "run" / "metrics.json").read_text())
    assert metrics["offline"]["state"]["dims"] == [0, 1]
    assert metrics["planning"]["rows"]  # random actions + the model
    assert (out / "run" / "report.md").is_file()
    # a second quickstart into the same folder refuses instead of mixing runs
    assert main(["quickstart", "--out", str(out), *TINY]) == 2
    assert "exists" in capsys.readouterr().err


def test_quickstart_refuses_bad_sizes_in_one_line(tmp_path, capsys):
    assert main(["quickstart", "--out", str(tmp_path), "--pairs", "0"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "--pairs >= 1" in err[0], err


def test_quickstart_trains_with_the_frozen_encoder_phase(tmp_path):
    parser = argparse.ArgumentParser()
    quickstart_cmd.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["quickstart", "--out", str(tmp_path), "--encoder-share", "0.4"])
    train = dict(quickstart_cmd.stages(args))["train"]
    flags = dict(zip(train[2::2], train[3::2], strict=False))
    assert flags["--encoder-share"] == "0.4"
    assert flags["--latent-window"] == "32" and flags["--latent-batch-size"] == "128"
    assert flags["--preset"] == "small" and flags["--model"] == "jepa"


def test_quickstart_can_plan_with_the_temporal_goal_cost_to_the_episodes_end(tmp_path):
    parser = argparse.ArgumentParser()
    quickstart_cmd.add_parser(parser.add_subparsers(dest="command"))
    default = parser.parse_args(["quickstart", "--out", str(tmp_path)])
    assert "--goal-space" not in dict(quickstart_cmd.stages(default))["evaluate"]
    args = parser.parse_args(["quickstart", "--out", str(tmp_path), "--goal-space", "temporal"])
    for stage in ("evaluate", "report"):
        argv = dict(quickstart_cmd.stages(args))[stage]
        assert argv[argv.index("--goal-space") + 1] == "temporal"
        assert argv[argv.index("--temporal-steps") + 1] == "8000"
        assert argv[argv.index("--objective") + 1] == "last" and "--deadline" in argv
