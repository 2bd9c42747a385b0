"""``forethought quickstart``: the whole job on TwoRoom with nothing to prepare.

Collects TwoRoom data (pixels and true state) and a held-out set, trains a pixel world model for
a time budget (end to end for ``--encoder-share`` of it, then its predictor alone on cached
latents), evaluates it on the held-out set, plans to ``--pairs`` start/goal pairs, writes the
report, and prints one table. Every stage is an ordinary CLI command (printed as it runs), so
any stage can be re-run or changed by hand.

Each ``--model`` comes with the data, training flags and search its TwoRoom results were
measured with (:data:`RECIPES`). By default the planner measures the distance to the goal in a
temporal-distance head fitted after training (``--goal-space temporal``), which counts the steps
the data's paths take, so the wall is no short cut.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

ENV = "forethought/TwoRoom-v0"
DOOR_EDGE_EXPLORER = "forethought.envs.exploration:make_door_edge_explorer"


@dataclass(frozen=True)
class Recipe:
    """How the quickstart collects for, trains and plans with one pixel model (the key of
    :data:`RECIPES`): the settings its TwoRoom results were measured with
    (``docs/benchmarks.md``).

    policy: the exploration policy of the collected data (None: ``collect``'s default).
    data: the file name stem of that data in ``--out`` (one per policy, so a folder can hold
        both recipes' data and ``collect --resume`` never mixes them).
    train: ``forethought train`` flags besides data, model, preset, budget and share.
    search: planner flags used with the temporal goal cost (``--goal-space temporal``).
    agent: the agent's flags around its planner (``plan``'s blocked-move memory and stop
        test), used with either goal cost.
    """

    policy: str | None
    data: str
    train: tuple[str, ...]
    search: tuple[str, ...]
    agent: tuple[str, ...] = ()


def _flags(text: str) -> tuple[str, ...]:
    return tuple(text.split())


RECIPES = {
    "jepa": Recipe(
        None,
        "tworoom",
        _flags("--latent-batch-size 128 --latent-window 32"),
        _flags("--execute-steps 8"),  # CEM over 25 steps, the planner's defaults
    ),
    "keypoint-mlp": Recipe(
        DOOR_EDGE_EXPLORER,
        "tworoom_door_edge",
        _flags(
            "--batch-size 64 --window 9 --latent-window 33 --latent-batch-size 256 "
            "--set residual_weight=0.1"
        ),
        _flags("--planner icem --horizon 60 --hold 6 --execute-steps 6 --goal-stride 6"),
        # the blocked-move memory and the stop test after every step: 56 -> 60% and 46 -> 62%
        # of 50 pairs on two 4-minute models (docs/benchmarks.md, the quickstart rows)
        _flags("--memory-radius 1 --stop-latent 0.4 --stop-each-step"),
    ),
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``quickstart``."""
    p = sub.add_parser("quickstart", help="collect, train, evaluate, plan and report on TwoRoom")
    p.add_argument("--out", type=Path, default=Path("quickstart"), help="working folder")
    p.add_argument("--episodes", type=int, default=1000, help="training episodes to collect")
    p.add_argument("--heldout-episodes", type=int, default=100, help="held-out episodes")
    p.add_argument(
        "--model",
        default="jepa",
        choices=tuple(RECIPES),
        help="pixel world model, with the data, training and search its TwoRoom results were "
        "measured with (default jepa; keypoint-mlp collects with wall and door-edge pushes and "
        "plans with iCEM over 60 steps of held actions, the blocked-move memory and a latent "
        "stop test after every step)",
    )
    p.add_argument("--train-time", default="4m", help="training budget (default 4m)")
    p.add_argument("--preset", default="small", help="model size preset (default small)")
    p.add_argument(
        "--encoder-share",
        type=float,
        default=0.5,
        help="share of the training time spent end to end before the predictor trains alone on "
        "windows of cached latents (default 0.5)",
    )
    p.add_argument("--pairs", type=int, default=50, help="start/goal pairs to plan (default 50)")
    p.add_argument("--videos", type=int, default=3, help="imagined-future videos in the report")
    p.add_argument("--planner-samples", type=int, default=128, help="candidates per iteration")
    p.add_argument("--planner-iterations", type=int, default=2, help="iterations per plan")
    p.add_argument(
        "--goal-space",
        default="temporal",
        choices=("latent", "temporal"),
        help="where the planner measures the distance to the goal: in a temporal-distance head "
        "fitted on the training episodes (default; distance counts steps, so the wall is no "
        "short cut; a last-step L2 cost to the episode's end), or between latents (CEM over "
        "25 steps)",
    )
    p.add_argument(
        "--temporal-steps",
        type=int,
        default=6000,
        help="fit steps of the temporal-distance head (default 6000: the quickstart stays "
        "within 10 minutes)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads of every stage (default min(2, cores), as train's)",
    )
    p.set_defaults(run=run)


def planner_flags(args: argparse.Namespace) -> list[str]:
    """The planning flags evaluate and report share."""
    budget = ["--samples", str(args.planner_samples), "--iterations", str(args.planner_iterations)]
    recipe = RECIPES[args.model]
    if args.goal_space == "latent":
        return [*budget, "--execute-steps", "8", *recipe.agent]
    temporal_cost = "--goal-space temporal --objective last --goal-distance l2 --mean-weight 0.1"
    return [
        *budget,
        *recipe.search,
        *temporal_cost.split(),
        "--temporal-steps",
        str(args.temporal_steps),
        "--deadline",
        *recipe.agent,
    ]


def stages(args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    """The quickstart's stages as (name, forethought argv); paths stay single arguments."""
    out: Path = args.out
    recipe = RECIPES[args.model]
    train_h5, held_h5, run_dir = (
        str(out / f"{recipe.data}.h5"),
        str(out / f"{recipe.data}_heldout.h5"),
        str(out / "run"),
    )
    policy = ["--policy", recipe.policy] if recipe.policy else []
    collect = ["collect", ENV, *"--max-steps 200 --obs both --resume".split(), *policy]
    from forethought.training.device import default_threads

    threads = ["--threads", str(args.threads or default_threads())]
    planner = [*planner_flags(args), *threads]
    return [
        ("collect", [*collect, "--episodes", str(args.episodes), "--out", train_h5, "--seed", "0"]),
        (
            "collect held-out",
            [*collect, "--episodes", str(args.heldout_episodes), "--out", held_h5, "--seed", "1"],
        ),
        (
            "train",
            [
                "train",
                train_h5,
                "--model",
                args.model,
                "--preset",
                args.preset,
                "--obs-keys",
                "pixels",
                "--time-budget",
                args.train_time,
                "--encoder-share",
                str(args.encoder_share),
                *recipe.train,
                *threads,
                "--out",
                run_dir,
            ],
        ),
        (
            "evaluate",
            [
                "evaluate",
                run_dir,
                "--data",
                held_h5,
                "--state-dims",
                "0,1",
                "--planning",
                "--env",
                ENV,
                "--episodes",
                str(args.pairs),
                *planner,
            ],
        ),
        (
            "report",
            [
                "report",
                run_dir,
                "--env",
                ENV,
                "--episodes",
                "2",
                "--videos",
                str(args.videos),
                *planner,
            ],
        ),
    ]


def run(args: argparse.Namespace) -> int:
    from forethought.cli.main import main
    from forethought.core.errors import ForethoughtError

    if args.pairs < 1 or args.episodes < 2 or args.heldout_episodes < 1:
        raise ForethoughtError(
            "quickstart needs --pairs >= 1, --episodes >= 2 and --heldout-episodes >= 1"
        )
    run_dir = args.out / "run"
    if run_dir.exists():
        raise ForethoughtError(f"{run_dir} exists; remove it or pick another --out")
    args.out.mkdir(parents=True, exist_ok=True)
    seconds = {}
    for name, argv in stages(args):
        print(f"\n== {name}: forethought {' '.join(argv)}", flush=True)
        start = time.time()
        rc = main(argv)
        seconds[name] = time.time() - start
        if rc != 0:
            raise ForethoughtError(f"quickstart stopped: stage '{name}' exited with {rc}")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    print_summary(metrics, seconds, run_dir)
    return 0


def print_summary(metrics: dict, seconds: dict[str, float], run_dir: Path) -> None:
    off, plan = metrics["offline"], metrics["planning"]
    at, k = off["at_horizon"], off["horizon"]
    print(f"\n{'stage':<18} {'seconds':>8}")
    for name, s in seconds.items():
        print(f"{name:<18} {s:>8.0f}")
    print(f"{'total':<18} {sum(seconds.values()):>8.0f}\n")
    print(
        f"{k}-step position error on held-out episodes: {at['model']:.2f} px "
        f"(copy-last {at['copy_last']:.2f} px, linear {at['linear']:.2f} px)"
    )
    for name, r in plan["rows"].items():
        s = r["success"]
        print(
            f"planning success, {name}: {s['successes']}/{s['n']} = {100 * s['rate']:.0f}% "
            f"[{100 * s['low']:.0f}, {100 * s['high']:.0f}] (95% Wilson)"
        )
    print(f"\nreport: {run_dir / 'report.html'} (open it in a browser; Markdown: report.md)")
