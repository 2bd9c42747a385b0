"""``forethought evaluate RUN --planning --env ENV_ID``: the closed-loop success table."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from forethought.cli.plan_cmd import add_planner_args, build_agent_factory


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``evaluate``."""
    p = sub.add_parser("evaluate", help="evaluate a trained model (closed-loop planning success)")
    p.add_argument(
        "run_dir", metavar="RUN", help="run directory (or 'true-sim': TwoRoom's true simulator)"
    )
    p.add_argument("--planning", action="store_true", help="closed-loop planning to goals")
    p.add_argument("--env", required=True, help="env id, e.g. forethought/TwoRoom-v0")
    p.add_argument("--episodes", type=int, default=20, help="tasks of the protocol (default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed of the task set (default 0)")
    p.add_argument("--ceiling", action="store_true", help="add the true-simulator row (TwoRoom)")
    p.add_argument("--json", type=Path, default=None, help="also write the table as JSON")
    add_planner_args(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from forethought.core.errors import ForethoughtError
    from forethought.envs import make_env
    from forethought.envs.factory import check_env_id
    from forethought.eval.closed_loop import (
        TRUE_SIM,
        RandomAgent,
        evaluate_planning,
        goal_tasks,
    )

    if not args.planning:
        raise ForethoughtError("evaluate does closed-loop planning for now; pass --planning")
    if args.episodes < 1:
        raise ForethoughtError(f"--episodes must be at least 1, got {args.episodes}")
    torch.set_num_threads(max(1, args.threads))
    check_env_id(args.env)
    tasks = goal_tasks(args.env, args.episodes, args.seed)

    def env_fn():
        return make_env(args.env, obs="both")

    probe = env_fn()
    try:
        ours = build_agent_factory(args, probe)
        rows = {"random actions": lambda env, task: RandomAgent(env.action_space, args.seed)}
        rows[f"{args.run_dir} ({args.planner})"] = ours
        if args.ceiling and args.run_dir != TRUE_SIM:
            sim_args = argparse.Namespace(**{**vars(args), "run_dir": TRUE_SIM})
            rows[f"true simulator ({args.planner})"] = build_agent_factory(sim_args, probe)
    finally:
        probe.close()
    budget = f"{args.samples}x{args.iterations}, horizon {args.horizon}"
    print(
        f"{args.env}: {len(tasks)} tasks (seed {args.seed}), {args.max_steps} steps, "
        f"planner {args.planner} {budget}, success = after the last step"
    )
    print(f"{'row':<36} {'success [95% Wilson]':<28} {'steps':>6} {'plan ms':>8} {'p95':>7}")
    table = {}
    for name, factory in rows.items():
        r = evaluate_planning(env_fn, factory, tasks, args.max_steps)
        s = r.success
        rate = f"{s.successes}/{s.n} {100 * s.rate:5.1f}% [{100 * s.low:.1f}, {100 * s.high:.1f}]"
        steps = f"{r.steps_to_success_median:g}" if r.steps_to_success_median else "-"
        ms = f"{r.plan_ms_median:.1f}" if r.plan_ms_median is not None else "-"
        p95 = f"{r.plan_ms_p95:.1f}" if r.plan_ms_p95 is not None else "-"
        print(f"{name:<36} {rate:<28} {steps:>6} {ms:>8} {p95:>7}", flush=True)
        table[name] = r.to_dict()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"env": args.env, "rows": table}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0
