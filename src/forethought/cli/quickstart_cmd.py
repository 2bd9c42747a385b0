"""``forethought quickstart``: the whole job on TwoRoom with nothing to prepare.

Collects TwoRoom data (pixels and true state) and a held-out set, trains a pixel world model for
a time budget (end to end for ``--encoder-share`` of it, then its predictor alone on cached
latents), evaluates it on the held-out set, plans to ``--pairs`` start/goal pairs, writes
the report, and prints one table. Every stage is an ordinary CLI command (printed as it runs), so
any stage can be re-run or changed by hand.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ENV = "forethought/TwoRoom-v0"


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``quickstart``."""
    p = sub.add_parser("quickstart", help="collect, train, evaluate, plan and report on TwoRoom")
    p.add_argument("--out", type=Path, default=Path("quickstart"), help="working folder")
    p.add_argument("--episodes", type=int, default=1000, help="training episodes to collect")
    p.add_argument("--heldout-episodes", type=int, default=100, help="held-out episodes")
    p.add_argument("--train-time", default="4m", help="training budget (default 4m)")
    p.add_argument("--preset", default="small", help="model size preset (default small)")
    p.add_argument(
        "--encoder-share",
        type=float,
        default=0.5,
        help="share of the training time spent end to end before the predictor trains alone on "
        "32-row windows of cached latents (default 0.5)",
    )
    p.add_argument("--pairs", type=int, default=50, help="start/goal pairs to plan (default 50)")
    p.add_argument("--videos", type=int, default=3, help="imagined-future videos in the report")
    p.add_argument("--planner-samples", type=int, default=128, help="candidates per iteration")
    p.add_argument("--planner-iterations", type=int, default=2, help="iterations per plan")
    p.add_argument(
        "--goal-space",
        default="latent",
        choices=("latent", "temporal"),
        help="where the planner measures the distance to the goal: between latents (default), "
        "or in a temporal-distance head fitted on the training episodes (distance counts "
        "steps, so the wall is no short cut; planned with a last-step L2 cost to the "
        "episode's end; adds about 3 minutes)",
    )
    p.add_argument(
        "--temporal-steps",
        type=int,
        default=8000,
        help="fit steps of the temporal-distance head (default 8000)",
    )
    p.set_defaults(run=run)


def stages(args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    """The quickstart's stages as (name, forethought argv); paths stay single arguments."""
    out: Path = args.out
    train_h5, held_h5, run_dir = (
        str(out / "tworoom.h5"),
        str(out / "tworoom_heldout.h5"),
        str(out / "run"),
    )
    collect = ["collect", ENV, "--max-steps", "200", "--obs", "both", "--resume"]
    planner = ["--samples", str(args.planner_samples), "--iterations",
               str(args.planner_iterations), "--execute-steps", "8"]  # fmt: skip
    if args.goal_space == "temporal":  # the cost the temporal head was measured with
        planner += ["--goal-space", "temporal", "--temporal-steps", str(args.temporal_steps),
                    "--objective", "last", "--goal-distance", "l2", "--mean-weight", "0.1",
                    "--deadline"]  # fmt: skip
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
                "jepa",
                "--preset",
                args.preset,
                "--obs-keys",
                "pixels",
                "--time-budget",
                args.train_time,
                "--encoder-share",
                str(args.encoder_share),
                "--latent-batch-size",
                "128",
                "--latent-window",
                "32",
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
