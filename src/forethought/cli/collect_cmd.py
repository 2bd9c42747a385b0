"""``forethought collect ENV_ID``: run a policy and write episodes to a dataset file."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from forethought.cli.progress import progress_bar


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("collect", help="collect episodes from a Gymnasium env into a dataset")
    p.add_argument("env_id", help="a Gymnasium id, e.g. forethought/TwoRoom-v0 or Pendulum-v1")
    p.add_argument("--episodes", type=int, default=100, help="episodes the file holds when done")
    p.add_argument("--max-steps", type=int, default=None, help="episode time limit")
    p.add_argument(
        "--policy",
        default="auto",
        help="random, auto (the env's scripted explorer if it has one), or MODULE:CALLABLE",
    )
    p.add_argument("--obs", default="state", choices=("state", "pixels", "both"))
    p.add_argument("--image-size", type=int, default=64, help="side of rendered frames")
    p.add_argument("--out", type=Path, default=None, help="dataset file (default data/<env>.h5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=0, help="processes (default: one per core)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="append to an existing --out file")
    g.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.set_defaults(run=run)


def default_out(env_id: str) -> Path:
    return Path("data") / (env_id.replace("/", "_") + ".h5")


def run(args: argparse.Namespace) -> int:
    from forethought.collect import CollectConfig, collect

    cfg = CollectConfig(
        env_id=args.env_id,
        out=args.out or default_out(args.env_id),
        episodes=args.episodes,
        max_steps=args.max_steps,
        policy=args.policy,
        obs=args.obs,
        image_size=args.image_size,
        seed=args.seed,
        workers=args.workers,
        resume=args.resume,
        overwrite=args.overwrite,
    )
    t0 = time.perf_counter()
    with progress_bar(f"collect {cfg.env_id}", total=cfg.episodes, unit="episodes") as bar:
        result = collect(cfg, on_episode=lambda done, total, rows: bar.update(done, rows - 1))
    dt = time.perf_counter() - t0
    print(
        f"wrote {result.episodes_added} episodes to {result.path} in {dt:.1f}s "
        f"(now {result.episodes_total} episodes, "
        f"{result.steps_total - result.episodes_total} steps)"
    )
    return 0
