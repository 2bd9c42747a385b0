"""``forethought report RUN``: report.html (self-contained) and report.md from a run's files."""

from __future__ import annotations

import argparse
from pathlib import Path

from forethought.cli.plan_cmd import add_planner_args, build_agent_factory


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``report``."""
    p = sub.add_parser("report", help="write report.html and report.md for a trained run")
    p.add_argument("run_dir", metavar="RUN", type=Path, help="run directory")
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help="dataset for the imagined-future "
        "videos (default: the run's training dataset, when it is still there)",
    )
    p.add_argument("--videos", type=int, default=3, help="imagined-future videos (default 3)")
    p.add_argument("--env", default=None, help="record planning episodes in this env")
    p.add_argument("--episodes", type=int, default=1, help="planning episodes to record")
    p.add_argument("--seed", type=int, default=0, help="first task of the protocol (default 0)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: RUN)")
    add_planner_args(p)
    p.set_defaults(run=run)


def planning_videos(args: argparse.Namespace) -> list:
    """Record ``args.episodes`` planning episodes as GIFs (captions say how each went)."""
    from forethought.envs import make_env
    from forethought.envs.factory import check_env_id
    from forethought.eval.closed_loop import run_episode
    from forethought.eval.goals import goal_tasks
    from forethought.eval.report import Media, gif_bytes

    check_env_id(args.env)
    out = []
    for i, task in enumerate(goal_tasks(args.env, args.episodes, args.seed)):
        env = make_env(args.env, obs="both", render_mode="rgb_array")
        try:
            agent = build_agent_factory(args, env)(env, task)
            r = run_episode(env, agent, args.max_steps, options=task, record_frames=True)
        finally:
            env.close()
        how = "reached the goal" if r.success else "did not reach the goal"
        out.append(
            Media(
                f"planning_{i}.gif",
                gif_bytes(list(r.frames), fps=10),
                f"episode {i + 1}: {how} ({r.steps} steps)",
            )
        )
    return out


def run(args: argparse.Namespace) -> int:
    import torch

    from forethought.core.errors import ForethoughtError
    from forethought.eval.report import build_sections, imagined_futures, write_report
    from forethought.training import load_run

    torch.set_num_threads(max(1, args.threads))
    if not (args.run_dir / "config.json").is_file():
        raise ForethoughtError(f"{args.run_dir} is not a run directory (no config.json)")
    run = load_run(args.run_dir)
    data = args.data or Path(run.dataset["path"])
    videos = []
    if args.videos > 0:
        if not data.exists():
            raise ForethoughtError(f"dataset {data} not found; pass --data or --videos 0")
        videos = imagined_futures(run, data, count=args.videos)
    plans = planning_videos(args) if args.env else []
    sections = build_sections(args.run_dir, videos, plans)
    html_path, md_path = write_report(args.run_dir, args.out or args.run_dir, sections)
    print(f"wrote {html_path} and {md_path}")
    return 0
