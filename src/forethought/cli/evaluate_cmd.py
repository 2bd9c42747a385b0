"""``forethought evaluate RUN [--data HELDOUT] [--planning --env ENV_ID]``: metrics.json.

``--data``: grounded open-loop errors against copy-last and linear baselines, robustness sweeps
and calibration on held-out data (:mod:`forethought.eval.offline`). ``--planning``: the
closed-loop success table. Both go to ``RUN/metrics.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from forethought.cli.plan_cmd import add_planner_args, build_agent_factory


def write_json_atomic(path: Path, obj: dict) -> None:
    from forethought.training.atomic import atomic_write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(obj, indent=2) + "\n")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``evaluate``."""
    p = sub.add_parser(
        "evaluate", help="grounded metrics on held-out data and/or closed-loop planning success"
    )
    p.add_argument(
        "run_dir", metavar="RUN", help="run directory (or 'true-sim': TwoRoom's true simulator)"
    )
    p.add_argument("--data", type=Path, default=None, help="held-out dataset (offline metrics)")
    p.add_argument("--horizon-k", type=int, default=16, help="open-loop steps K (default 16)")
    p.add_argument("--windows", type=int, default=512, help="held-out windows (default 512)")
    p.add_argument("--state-key", default="state", help="observation key of the true state")
    p.add_argument("--state-dims", default="", help="state dims to score, e.g. 0,1 (default all)")
    p.add_argument("--planning", action="store_true", help="closed-loop planning to goals")
    p.add_argument("--env", default=None, help="env id for --planning, e.g. forethought/TwoRoom-v0")
    p.add_argument("--out", type=Path, default=None, help="metrics file (default RUN/metrics.json)")
    p.add_argument("--episodes", type=int, default=20, help="tasks of the protocol (default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed of the task set (default 0)")
    p.add_argument("--ceiling", action="store_true", help="add the true-simulator row (TwoRoom)")
    p.add_argument("--json", type=Path, default=None, help="also write the table as JSON")
    add_planner_args(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from forethought.core.errors import ForethoughtError

    if not args.planning and args.data is None:
        raise ForethoughtError(
            "evaluate needs --data HELDOUT (offline metrics) and/or --planning --env ENV_ID"
        )
    torch.set_num_threads(max(1, args.threads))
    metrics: dict = {}
    if args.data is not None:
        metrics["offline"] = run_offline(args)
    if args.planning:
        metrics["planning"] = run_planning(args)
    out = args.out or (Path(args.run_dir) / "metrics.json" if args.run_dir != "true-sim" else None)
    if out is None:
        return 0
    merged = json.loads(out.read_text()) if out.exists() else {}
    merged.update(metrics)
    write_json_atomic(out, merged)
    print(f"wrote {out}")
    return 0


def run_offline(args: argparse.Namespace) -> dict:
    """Print and return the offline metrics of ``args.run_dir`` on ``args.data``."""
    from forethought.core.errors import ForethoughtError
    from forethought.eval.offline import OfflineEvalConfig, evaluate_offline
    from forethought.training import load_run

    if args.run_dir == "true-sim":
        raise ForethoughtError("--data evaluates a trained run; 'true-sim' has no latent")
    if not args.data.exists():
        raise ForethoughtError(f"--data {args.data}: no such file (collect one first)")
    try:
        dims = tuple(int(d) for d in args.state_dims.split(",") if d.strip())
    except ValueError:
        raise ForethoughtError(
            f"--state-dims wants integers like 0,1, got {args.state_dims!r}"
        ) from None
    cfg = OfflineEvalConfig(
        horizon=args.horizon_k,
        windows=args.windows,
        state_key=args.state_key,
        state_dims=dims or None,
        sweep_k=min(8, args.horizon_k),
        probe_steps=args.probe_steps,
    )
    m = evaluate_offline(load_run(args.run_dir), args.data, cfg)
    at = m["at_horizon"]
    print(
        f"{m['heldout']['windows']} held-out windows ({m['heldout']['episodes']}): "
        f"{cfg.horizon}-step error {at['model']:.3f} (copy-last {at['copy_last']:.3f}, "
        f"linear {at['linear']:.3f}), observed-frame floor "
        f"{m['kstep']['encoder_floor']['mean'][0]:.3f}, effective rank "
        f"{m['latent']['effective_rank']:.1f}/{m['latent']['dim']}"
    )
    for name, rows in m["robustness"].items():
        if isinstance(rows, list):
            levels = ", ".join(f"{r['level']:g}: {r['error']:.3f}" for r in rows)
            print(f"  {name} (error at k={m['robustness']['k']}): {levels}")
    return m


def run_planning(args: argparse.Namespace) -> dict:
    """Print the planning table and return its rows."""
    from forethought.core.errors import ForethoughtError
    from forethought.envs import make_env
    from forethought.envs.factory import check_env_id
    from forethought.eval.closed_loop import RandomAgent, evaluate_planning
    from forethought.eval.goals import TRUE_SIM, goal_tasks
    from forethought.training.load import read_run_dataset

    if args.env is None:
        raise ForethoughtError("--planning needs --env ENV_ID (e.g. forethought/TwoRoom-v0)")
    if args.episodes < 1:
        raise ForethoughtError(f"--episodes must be at least 1, got {args.episodes}")
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
            # the true simulator is exact: no disagreement to penalize; a temporal head for it
            # is fitted on the run's training data (the same trajectories as the run's head)
            sim_args = argparse.Namespace(
                **{
                    **vars(args),
                    "run_dir": TRUE_SIM,
                    "uncertainty_weight": 0.0,
                    "adapt_steps": 0,  # nothing to adapt or remember either
                    "memory_radius": 0.0,
                    "visit_weight": 0.0,  # its goal cost is exact: no wrong minimum to leave
                    "temporal_data": args.temporal_data
                    or read_run_dataset(args.run_dir).get("path"),
                    "temporal_extra_data": [],  # its head reads states, not the run's latents
                }
            )
            rows[f"true simulator ({args.planner})"] = build_agent_factory(sim_args, probe)
    finally:
        probe.close()
    budget = (
        f"{args.samples}x{args.iterations}, horizon {args.horizon}, "
        f"{args.execute_steps} actions per plan, hold {args.hold}, "
        f"{args.objective} {args.goal_distance} goal cost in {args.goal_space} space "
        f"(+{args.mean_weight:g} x mean"
        + (f", read every {args.goal_stride} steps" if args.goal_stride > 1 else "")
        + (f", +{args.uncertainty_weight:g} x disagreement" if args.uncertainty_weight else "")
        + ")"
        + (", plans end at the episode's last step" if args.deadline else "")
        + (
            f", the model adapts ({args.adapt_steps} steps) when its error on the latest "
            f"{args.adapt_window} real rows is above {args.adapt_threshold:g}"
            if args.adapt_steps
            else ""
        )
        + (
            f", the agent imagines moves blocked within {args.memory_radius:g} unit-action "
            "moves of its real steps that stood still"
            if args.memory_radius
            else ""
        )
        + (", it stands still when that scores lower than its plan" if args.stay_check else "")
        + (
            f", it stands still while its belief's latent is within {args.stop_latent:g} of "
            "the goal's" + (" (tested after every step)" if args.stop_each_step else "")
            if args.stop_latent
            else ""
        )
        + (", its imagination has the zero action's drift removed" if args.drift_free else "")
        + (
            f", plans cost {args.visit_weight:g} more per real step spent near their end"
            + (f" beyond {args.visit_after:g}" if args.visit_after else "")
            if args.visit_weight
            else ""
        )
    )
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
    result = {"env": args.env, "seed": args.seed, "budget": budget, "rows": table}
    if args.json:
        write_json_atomic(args.json, result)
        print(f"wrote {args.json}")
    return result
