"""``forethought evaluate RUN --data``: metrics.json with baselines, sweeps and sample counts."""

from __future__ import annotations

import json

import pytest
import torch

from forethought.cli.main import main
from forethought.models import DataSpec, build_model
from forethought.training import TrainConfig, train
from tests.training.helpers import write_dataset


@pytest.fixture(scope="module")
def linear_run(tmp_path_factory):
    """A tiny JEPA briefly trained on a dataset with linear dynamics, and a second dataset."""
    root = tmp_path_factory.mktemp("offline")
    data = write_dataset(root / "train.h5", episodes=12, steps=24)
    other = write_dataset(root / "other.h5", episodes=4, steps=24, seed=1)
    torch.set_num_threads(1)
    cfg = TrainConfig(steps=5, batch_size=4, window=6, val_every=10**9, val_fraction=0.25)
    train(
        data,
        root / "run",
        cfg,
        lambda ds: build_model("jepa", "tiny", DataSpec.from_dataset(ds), latent_dim=8),
        model_name="jepa",
        preset="tiny",
        progress=False,
    )
    return root / "run", data, other


def _evaluate(run, data, capsys, *extra):
    rc = main(
        [
            "evaluate",
            str(run),
            "--data",
            str(data),
            "--windows",
            "16",
            "--horizon-k",
            "4",
            "--probe-steps",
            "50",
            *extra,
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    return out


def test_metrics_json_holds_baselines_sweeps_and_counts(linear_run, capsys):
    run, data, _ = linear_run
    out = _evaluate(run, data, capsys)
    assert "4-step error" in out and "held-out windows" in out
    m = json.loads((run / "metrics.json").read_text())["offline"]
    ks = m["kstep"]
    assert ks["model"]["count"] == [16] * 4 and ks["copy_last"]["count"] == [16] * 4
    # the data is exactly linear: the least-squares baseline is exact, copy-last is not
    assert max(ks["linear"]["mean"]) < 1e-3
    assert min(ks["copy_last"]["mean"]) > 0.05
    assert m["heldout"]["episodes"].startswith("the run's held-out episodes")
    rob = m["robustness"]
    assert set(rob) >= {"k", "sensor_noise", "action_noise", "dropped_frames"}
    assert "pixel_noise" not in rob  # a state-only model has no images to perturb
    clean = ks["model"]["mean"][rob["k"] - 1]
    for name in ("sensor_noise", "action_noise"):
        assert rob[name][0]["level"] == 0 and rob[name][0]["n"] == 16
        assert rob[name][0]["error"] == pytest.approx(clean, abs=1e-3)  # level 0 is the clean run
    assert [r["level"] for r in rob["dropped_frames"]["rows"]] == [0.0, 0.25, 0.5, 0.75]
    assert m["calibration"] is None  # one predictor: no disagreement


def test_a_separate_dataset_is_held_out_entirely(linear_run, capsys):
    run, _, other = linear_run
    out_file = run / "other_metrics.json"
    _evaluate(run, other, capsys, "--out", str(out_file))
    m = json.loads(out_file.read_text())["offline"]
    assert m["heldout"]["n_episodes"] == 4 and m["heldout"]["episodes"].startswith("every")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (("--data", "{tmp}/none.h5"), "no such file"),
        ((), "needs --data"),
        (("--data", "{data}", "--state-dims", "x"), "--state-dims"),
        (("--data", "{data}", "--state-key", "velocity"), "lacks observation key"),
    ],
)
def test_bad_input_is_one_line(linear_run, tmp_path, capsys, args, fragment):
    run, data, _ = linear_run
    fill = {"{tmp}": str(tmp_path), "{data}": str(data)}
    argv = ["evaluate", str(run)]
    for a in args:
        for k, v in fill.items():
            a = a.replace(k, v)
        argv.append(a)
    rc = main(argv)
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc == 2 and len(err) == 1 and err[0].startswith("forethought: "), err
    assert fragment in err[0], err[0]
