"""``forethought plan`` and ``forethought evaluate --planning``: output, files, refusals."""

from __future__ import annotations

import pytest
import torch

from forethought.cli.main import main
from forethought.models import DataSpec, build_model
from forethought.training import TrainConfig, train
from tests.training.helpers import write_dataset

ENV = "forethought/TwoRoom-v0"
SMALL = ("--horizon", "20", "--samples", "64", "--iterations", "2")


@pytest.fixture(scope="module")
def state3_run(tmp_path_factory):
    """A tiny JEPA trained on a 3-d 'state' dataset: it cannot read TwoRoom's (4,) state."""
    root = tmp_path_factory.mktemp("state3")
    data = write_dataset(root / "linear.h5", episodes=4, steps=8)
    torch.set_num_threads(1)
    cfg = TrainConfig(steps=1, batch_size=2, window=4, val_every=1, log_every=1, warmup_steps=1)
    train(
        data,
        root / "run",
        cfg,
        lambda ds: build_model("jepa", "tiny", DataSpec.from_dataset(ds), latent_dim=4),
        model_name="jepa",
        preset="tiny",
        progress=False,
    )
    return root / "run"


def test_plan_true_simulator_prints_success_and_writes_a_gif(tmp_path, capsys):
    gif = tmp_path / "ep.gif"
    rc = main(["plan", "true-sim", "--env", ENV, "--goal", "18,15", "--max-steps", "30", *SMALL,
               "--video", str(gif)])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "success: yes" in out and "ms per plan" in out
    assert gif.stat().st_size > 1000


def test_plan_with_held_actions_and_a_last_step_cost(capsys):
    rc = main(["plan", "true-sim", "--env", ENV, "--goal", "18,15", "--max-steps", "30",
               "--planner", "icem", "--horizon", "30", "--hold", "5", "--execute-steps", "5",
               "--samples", "64", "--iterations", "2", "--objective", "last",
               "--goal-distance", "l2", "--mean-weight", "0.1", "--deadline",
               "--goal-stride", "5"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "success: yes" in out


@pytest.mark.parametrize(
    "flags, counted",
    [
        # once there, no plan beats standing on the goal; --drift-free is a no-op on the true
        # simulator, whose zero action already stands still
        (("--stay-check", "--drift-free"), "stood still instead of "),
        # the true simulator's latent is its state: the stop holds within 3 px of the goal
        (("--stop-latent", "3"), "stood still without planning "),
        (("--stop-latent", "3", "--stop-each-step"), "or cut a plan short "),
    ],
)
def test_plan_stands_still_at_the_goal(flags, counted, capsys):
    rc = main(["plan", "true-sim", "--env", ENV, "--goal", "18,15", "--max-steps", "40", *SMALL,
               *flags])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "success: yes" in out
    assert int(out.split(counted)[1].split()[0]) > 0, out


def test_evaluate_planning_prints_the_table(tmp_path, capsys):
    js = tmp_path / "table.json"
    rc = main(["evaluate", "true-sim", "--planning", "--env", ENV, "--episodes", "2",
               "--max-steps", "10", "--samples", "16", "--iterations", "1", "--horizon", "5",
               "--deadline", "--json", str(js)])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0, out
    rows = [line for line in out.splitlines() if line.startswith(("random", "true-sim"))]
    assert len(rows) == 2 and "0/2" in rows[0]  # ten random steps cannot cross rooms
    assert "[95% Wilson]" in out and js.is_file()
    assert "plans end at the episode's last step" in out


@pytest.mark.parametrize(
    "args, fragment",
    [
        (("plan", "true-sim", "--env", "forethought/TwoRom-v0"), "unknown env id"),
        (("plan", "true-sim", "--env", "Pendulum-v1"), "cannot"),
        (("plan", "true-sim", "--env", ENV, "--goal", "3"), "--goal wants x,y"),
        (("plan", "true-sim", "--env", ENV, "--stop-latent", "-1"), "below must be > 0"),
        (
            ("plan", "true-sim", "--env", ENV, "--hold", "4", "--execute-steps", "6"),
            "execute a multiple of the hold",
        ),
        (("plan", "true-sim", "--env", ENV, "--goal-stride", "0"), "stride must be >= 1"),
        (("plan", "true-sim", "--env", ENV, "--adapt-steps", "3"), "obs-mlp or keypoint-mlp"),
        (
            ("plan", "true-sim", "--env", ENV, "--adapt-steps", "3", "--adapt-window", "2"),
            "window >= 3",
        ),
        (("plan", "true-sim", "--env", ENV, "--memory-radius", "1"), "obs-mlp or keypoint-mlp"),
        (("plan", "true-sim", "--env", ENV, "--memory-radius", "-1"), "radius and quiet_cost"),
        (
            ("plan", "true-sim", "--env", ENV, "--memory-radius", "1", "--memory-quiet-cost", "-2"),
            "quiet_cost must be >= 0",
        ),
        (("plan", "true-sim", "--env", ENV, "--visit-weight", "1"), "visit cost (--visit-weight)"),
        (("plan", "true-sim", "--env", ENV, "--visit-weight", "-1"), "weight and after must be"),
        (("plan", "true-sim", "--env", ENV, "--goal", "100,100"), "cannot place the agent"),
        (("plan", "true-sim", "--env", ENV, "--planner", "cme"), "unknown planner"),
        (("plan", "true-sim", "--env", ENV, "--hold", "0"), "hold must be >= 1"),
        (("plan", "true-sim", "--env", ENV, "--uncertainty-weight", "1"), "needs an ensemble"),
        (("plan", "{tmp}", "--env", ENV), "not a run directory"),
        (("evaluate", "true-sim", "--env", ENV), "--planning"),
        (("evaluate", "true-sim", "--planning", "--env", ENV, "--episodes", "0"), "--episodes"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, fragment):
    rc = main([a.replace("{tmp}", str(tmp_path)) for a in args])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc == 2 and len(err) == 1 and err[0].startswith("forethought: "), err
    assert fragment in err[0], err[0]


@pytest.mark.parametrize("command", ["plan", "evaluate"])
def test_a_model_that_cannot_read_the_env_is_refused(state3_run, capsys, command):
    extra = ["--planning", "--episodes", "1"] if command == "evaluate" else []
    rc = main([command, str(state3_run), "--env", ENV, *extra, *SMALL])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc == 2 and len(err) == 1, err
    assert "'state' of shape (3,)" in err[0] and "(4,)" in err[0], err[0]


def _tworoom_run(root, obs: str, model: str = "jepa", keys=("pixels",), **overrides):
    """A tiny JEPA (or ``model``) on a few real TwoRoom episodes (one training step)."""
    data = root / f"tworoom_{obs}.h5"
    assert main(["collect", ENV, "--episodes", "4", "--max-steps", "12", "--obs", obs,
                 "--out", str(data), "--workers", "1"]) == 0  # fmt: skip
    torch.set_num_threads(1)
    cfg = TrainConfig(steps=1, batch_size=2, window=4, val_every=1, log_every=1, warmup_steps=1)
    train(
        data,
        root / f"run_{model}_{obs}",
        cfg,
        lambda ds: build_model(
            model, "tiny", DataSpec.from_dataset(ds), obs_keys=keys, **overrides
        ),
        model_name=model,
        preset="tiny",
        progress=False,
    )
    return root / f"run_{model}_{obs}"


@pytest.fixture(scope="module")
def pixel_run(tmp_path_factory):
    return _tworoom_run(tmp_path_factory.mktemp("tworoom"), "both")


def test_probe_goal_space_plans_in_the_probes_units(pixel_run, capsys):
    from forethought.eval.goals import load_goal_model

    model, readout = load_goal_model(str(pixel_run), ENV, "probe", probe_steps=20)
    assert readout(torch.zeros(3, 5, model.latent_dim)).shape == (3, 5, 2)  # latents -> (x, y)
    rc = main(["plan", str(pixel_run), "--env", ENV, "--goal-space", "probe", "--max-steps", "3",
               "--probe-steps", "20", *SMALL])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "success: no" in out, out  # 3 steps cannot cross rooms
    # the probe was fitted once and cached in the run directory: the CLI loaded it
    assert len(list((pixel_run / "heads").glob("state-probe-*.safetensors"))) == 1


def test_temporal_goal_space_fits_a_head_on_the_runs_latents_and_caches_it(pixel_run, capsys):
    from forethought.eval.goals import load_goal_model

    model, readout = load_goal_model(str(pixel_run), ENV, "temporal", temporal_steps=20)
    assert readout(torch.zeros(3, 5, model.latent_dim)).shape == (3, 5, 32)  # the embedding
    rc = main(["plan", str(pixel_run), "--env", ENV, "--goal-space", "temporal", "--max-steps",
               "3", "--temporal-steps", "20", *SMALL])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "success: no" in out, out
    # fitted once by load_goal_model, then loaded from the run directory by the CLI
    assert len(list((pixel_run / "heads").glob("temporal-distance-*.safetensors"))) == 1


def test_temporal_extra_data_adds_episodes_to_the_runs_head(pixel_run, capsys, tmp_path):
    from forethought.core.errors import ForethoughtError
    from forethought.eval.goals import load_goal_model
    from forethought.eval.temporal import extra_latents
    from forethought.training.load import load_run

    data = str(pixel_run.parent / "tworoom_both.h5")  # 4 episodes of 13 rows
    z, episode = extra_latents(load_run(str(pixel_run)), (data, data))
    assert z.shape[0] == episode.shape[0] == 104 and episode.unique().tolist() == list(range(8))
    load_goal_model(str(pixel_run), ENV, "temporal", temporal_steps=7)
    load_goal_model(str(pixel_run), ENV, "temporal", temporal_steps=7, temporal_extra=(data,))
    fitted = [line for line in capsys.readouterr().out.splitlines() if "fitted" in line]
    rows = [int(line.split(" on ")[1].split()[0]) for line in fitted]
    assert len(rows) == 2 and rows[1] == rows[0] + 52, fitted  # two heads, 4 x 13 rows more
    rc = main(["plan", str(pixel_run), "--env", ENV, "--goal-space", "temporal", "--max-steps",
               "3", "--temporal-steps", "7", "--temporal-extra-data", data, *SMALL])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "fitted" not in out, out  # the head with the extra data was cached
    state_only = tmp_path / "state.h5"
    assert main(["collect", ENV, "--episodes", "1", "--max-steps", "3", "--out",
                 str(state_only), "--workers", "1"]) == 0  # fmt: skip
    for bad, match in (
        (str(tmp_path / "nope.h5"), "no such dataset"),
        (str(state_only), "collect it from the run's env with the same --obs"),
    ):
        with pytest.raises(ForethoughtError, match=match):
            load_goal_model(str(pixel_run), ENV, "temporal", temporal_extra=(bad,))
    with pytest.raises(ForethoughtError, match="adds episodes to a run's head"):
        load_goal_model("true-sim", ENV, "temporal", temporal_data=data, temporal_extra=(data,))


def test_temporal_ceiling_row_fits_its_head_on_the_runs_training_data(pixel_run, capsys):
    rc = main(["evaluate", str(pixel_run), "--planning", "--env", ENV, "--episodes", "1",
               "--ceiling", "--goal-space", "temporal", "--temporal-steps", "5",
               "--max-steps", "3", *SMALL])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "true simulator (cem)" in out, out


def test_true_sim_temporal_goal_space_needs_a_dataset(capsys):
    rc = main(["plan", "true-sim", "--env", ENV, "--goal-space", "temporal", *SMALL])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc == 2 and len(err) == 1 and "--temporal-data DATA" in err[0], err


def test_true_sim_temporal_goal_space_refuses_another_envs_dataset(tmp_path, capsys):
    data = write_dataset(tmp_path / "linear.h5", episodes=4, steps=8)  # a 3-d 'state'
    for where, expect in ((data, "3-dim 'state'"), (tmp_path / "nope.h5", "no dataset at")):
        rc = main(["plan", "true-sim", "--env", ENV, "--goal-space", "temporal",
                   "--temporal-data", str(where), "--temporal-steps", "5", *SMALL])  # fmt: skip
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert rc == 2 and len(err) == 1 and expect in err[0], err


def test_true_sim_probe_reads_the_exact_position():
    from forethought.eval.goals import load_goal_model

    _, readout = load_goal_model("true-sim", ENV, "probe")
    z = torch.arange(8.0).reshape(2, 4)  # two states [x, y, wall_x, door_y]
    assert readout(z).tolist() == [[0.0, 1.0], [4.0, 5.0]]


def test_probe_goal_space_needs_a_true_state_in_the_training_data(tmp_path, capsys):
    run = _tworoom_run(tmp_path, "pixels")
    capsys.readouterr()  # the collection's progress lines
    rc = main(["plan", str(run), "--env", ENV, "--goal-space", "probe", *SMALL])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc == 2 and len(err) == 1, err
    assert "lacks observation key(s) ['state']" in err[0] and "--obs both" in err[0], err[0]


def test_an_ensemble_plans_with_an_uncertainty_penalty(tmp_path, capsys):
    from forethought.eval.goals import goal_objective
    from forethought.models.base import Rollout

    run = _tworoom_run(tmp_path, "pixels", "jepa-ensemble", members=2)
    capsys.readouterr()
    rc = main(["plan", str(run), "--env", ENV, "--uncertainty-weight", "0.5", "--max-steps", "3",
               *SMALL])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "success: no" in out, out
    # the cost is the goal distance plus the weight times the disagreement summed over steps
    objective = goal_objective(uncertainty_weight=0.5)(torch.zeros(3))
    rollout = Rollout(latents=torch.ones(2, 4, 3), disagreement=torch.full((2, 4), 2.0))
    assert objective.cost(rollout).tolist() == [12.0 + 4.0, 12.0 + 4.0]


def test_an_observation_space_model_plans_from_state(tmp_path, capsys):
    run = _tworoom_run(tmp_path, "state", "obs-mlp", keys=("state",))
    capsys.readouterr()
    rc = main(["plan", str(run), "--env", ENV, "--max-steps", "3", *SMALL])
    out = capsys.readouterr().out
    assert rc == 0 and "success: no" in out, out
    rc = main(["plan", str(run), "--env", ENV, "--max-steps", "6", "--adapt-steps", "2",
               "--adapt-threshold", "0", *SMALL])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "success: no" in out, out
    plans = int(out.split("(median of ")[1].split()[0])
    assert f"adapted the predictor before {plans - 1} of the plans" in out, out  # not the first
    rc = main(["evaluate", str(run), "--planning", "--env", ENV, "--episodes", "1", "--ceiling",
               "--max-steps", "6", "--adapt-steps", "2", *SMALL])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "the model adapts (2 steps)" in out and "true simulator" in out, out
    rc = main(["plan", str(run), "--env", ENV, "--max-steps", "6", "--memory-radius", "1",
               "--memory-forget", "--memory-quiet-cost", "0.5", *SMALL])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "real steps as blocked" in out, out
    rc = main(["evaluate", str(run), "--planning", "--env", ENV, "--episodes", "1", "--ceiling",
               "--max-steps", "6", "--memory-radius", "1", *SMALL])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "imagines moves blocked within 1 unit-action moves" in out, out
    assert "true simulator" in out, out
    rc = main(["evaluate", str(run), "--planning", "--env", ENV, "--episodes", "1", "--ceiling",
               "--max-steps", "6", "--visit-weight", "0.5", "--visit-after", "2",
               *SMALL])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "plans cost 0.5 more per real step spent near their end" in out, out
    assert "true simulator" in out, out  # the simulator's row plans without the visit cost
