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
    "--temporal-steps",
    "50",
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


def parse(tmp_path, *flags: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    quickstart_cmd.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["quickstart", "--out", str(tmp_path), *flags])


def flag_values(argv: list[str]) -> dict[str, str]:
    """``--flag value`` pairs of an argv (flags without a value map to '')."""
    out, i = {}, 0
    while i < len(argv):
        if argv[i].startswith("--"):
            has_value = i + 1 < len(argv) and not argv[i + 1].startswith("--")
            out[argv[i]] = argv[i + 1] if has_value else ""
            i += 2 if has_value else 1
        else:
            i += 1
    return out


def test_quickstart_trains_each_model_with_its_measured_recipe(tmp_path):
    train = flag_values(
        dict(quickstart_cmd.stages(parse(tmp_path, "--encoder-share", "0.4")))["train"]
    )
    assert train["--model"] == "jepa" and train["--preset"] == "small"
    assert train["--encoder-share"] == "0.4" and train["--obs-keys"] == "pixels"
    assert train["--latent-window"] == "32" and train["--latent-batch-size"] == "128"
    kp = flag_values(
        dict(quickstart_cmd.stages(parse(tmp_path, "--model", "keypoint-mlp")))["train"]
    )
    assert kp["--model"] == "keypoint-mlp" and kp["--set"] == "residual_weight=0.1"
    assert kp["--latent-window"] == "33" and kp["--latent-batch-size"] == "256"


def test_quickstart_collects_each_recipes_data_into_its_own_files(tmp_path):
    default = dict(quickstart_cmd.stages(parse(tmp_path)))
    kp = dict(quickstart_cmd.stages(parse(tmp_path, "--model", "keypoint-mlp")))
    for stage in ("collect", "collect held-out"):
        assert "--policy" not in default[stage]
        assert flag_values(kp[stage])["--policy"] == quickstart_cmd.DOOR_EDGE_EXPLORER
        assert flag_values(kp[stage])["--out"] != flag_values(default[stage])["--out"]
    assert flag_values(kp["train"])["--model"] == "keypoint-mlp"
    assert kp["train"][1] == flag_values(kp["collect"])["--out"]  # trains on what it collected


def test_quickstart_plans_with_the_temporal_goal_cost_to_the_episodes_end_by_default(tmp_path):
    for model in ("jepa", "keypoint-mlp"):
        stages = dict(quickstart_cmd.stages(parse(tmp_path, "--model", model, "--threads", "1")))
        for stage in ("evaluate", "report"):
            argv = flag_values(stages[stage])
            assert argv["--goal-space"] == "temporal" and argv["--temporal-steps"] == "6000"
            assert argv["--objective"] == "last" and "--deadline" in argv
            assert argv["--threads"] == "1"
    long_search = flag_values(
        dict(quickstart_cmd.stages(parse(tmp_path, "--model", "keypoint-mlp")))["evaluate"]
    )
    assert long_search["--planner"] == "icem" and long_search["--horizon"] == "60"
    assert long_search["--hold"] == "6" and long_search["--goal-stride"] == "6"
    latent = dict(quickstart_cmd.stages(parse(tmp_path, "--goal-space", "latent")))["evaluate"]
    assert "--goal-space" not in latent and "--deadline" not in latent


def test_quickstart_plans_keypoint_mlp_with_the_memory_and_the_step_stop_test(tmp_path):
    for goal_space in ("temporal", "latent"):
        kp = dict(
            quickstart_cmd.stages(
                parse(tmp_path, "--model", "keypoint-mlp", "--goal-space", goal_space)
            )
        )
        for stage in ("evaluate", "report"):
            argv = flag_values(kp[stage])
            assert argv["--memory-radius"] == "1" and argv["--stop-latent"] == "0.4"
            assert "--stop-each-step" in argv
    # the JEPA has no positions to remember blocked moves at: its agent stays plain
    jepa = flag_values(dict(quickstart_cmd.stages(parse(tmp_path)))["evaluate"])
    assert "--memory-radius" not in jepa and "--stop-latent" not in jepa
