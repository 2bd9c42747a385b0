"""Closed-loop planning success on TwoRoom: random actions, the true-simulator ceiling, a run.

Protocol (PLDM / DINO-WM "Wall"): ``--pairs`` start/goal pairs (default 200) drawn by
``two_room_tasks`` from ``--seed``: random wall and door, start and goal in different rooms;
``--max-steps`` (200) steps per episode; success = final distance < 4.5 px after the budget.
The goal is given to the model as the goal observation (the env rendered with the agent at the
goal) encoded with ``model.encode_goal``; the ceiling plans with ``TwoRoomSimModel`` and the
same planner, budget and objective.

``--budgets 64x2,256x4,...`` adds a success-against-budget curve (samples x iterations) for the
ceiling and the run. Results go to ``--out`` (JSON, with the command line).

Run: python benchmarks/bench_tworoom_planning.py [--run RUN] [--pairs 200] [--budgets ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import torch
from _results import machine, run_main, write_result

from forethought.cli.plan_cmd import (
    adapt_config,
    add_adapt_args,
    add_goal_cost_args,
    memory_config,
    visit_config,
)
from forethought.envs import make_env
from forethought.eval.closed_loop import PlanningResult, RandomAgent, evaluate_planning
from forethought.eval.goals import (
    TRUE_SIM,
    TWO_ROOM,
    budget_planner,
    check_uncertainty,
    goal_agent_factory,
    goal_objective,
    load_goal_model,
    two_room_door_bands,
    two_room_failures,
    two_room_tasks,
)
from forethought.models import set_gate_floor
from forethought.training.load import read_run_dataset


def parse_budgets(text: str) -> list[tuple[int, int]]:
    """``"64x2,256x4"`` -> [(64, 2), (256, 4)] (samples x iterations)."""
    out = []
    for item in filter(None, text.split(",")):
        samples, _, iters = item.partition("x")
        try:
            out.append((int(samples), int(iters)))
        except ValueError:
            raise SystemExit(f"--budgets wants SAMPLESxITERATIONS items, got {item!r}") from None
    return out


def planning_row(
    loaded: tuple[Any, Any],
    args: argparse.Namespace,
    tasks: list,
    samples: int,
    iterations: int,
    label: str,
    uncertainty_weight: float = 0.0,
    adapt: Any = None,
    memory: Any = None,
    visits: Any = None,
) -> dict[str, Any]:
    """Evaluate ``loaded`` (model, goal readout or None) with the planner at one budget; returns
    the JSON row."""
    env_fn = lambda: make_env(TWO_ROOM, obs="both")  # noqa: E731
    space = env_fn().action_space
    planner = budget_planner(
        args.planner, space, args.horizon, samples, iterations, args.hold, seed=args.planner_seed
    )
    model, readout = loaded
    objective = goal_objective(
        args.objective,
        args.distance,
        args.mean_weight,
        readout,
        uncertainty_weight,
        args.goal_stride,
    )

    make_agent = goal_agent_factory(
        model,
        planner,
        args.execute_steps,
        objective,
        step_budget=args.max_steps if args.deadline else None,
        adapt=adapt,
        memory=memory,
        stay_check=args.stay_check,
        drift_free=args.drift_free,
        stop_latent=args.stop_latent,
        stop_each_step=args.stop_each_step,
        visits=visits,
    )
    agents: list[Any] = []  # one per episode, to count their adaptations and blocked steps

    def counted_agent(env: Any, task: Any) -> Any:
        agents.append(make_agent(env, task))
        return agents[-1]

    start = time.time()
    result = evaluate_planning(
        env_fn,
        counted_agent,
        tasks,
        args.max_steps,
        on_episode=lambda i, e: args.verbose and print(f"  {label} {i}: {e.to_dict()}", flush=True),
    )
    print(f"{label:<28} {samples}x{iterations}: {result.summary()} ({time.time() - start:.0f}s)")
    failures = two_room_failures(tasks, result.episodes)
    adaptations = [agent.adaptations for agent in agents]
    print("  failures: " + ", ".join(f"{k} {n}" for k, n in failures.items() if n))
    doors = two_room_door_bands(tasks, [e.success for e in result.episodes])
    print("  failed by door: " + ", ".join(f"{k} {f} of {n}" for k, (f, n) in doors.items()))
    if adapt is not None:
        print(f"  adaptations: {sum(adaptations)} in {sum(n > 0 for n in adaptations)} episodes")
    blocked = [agent.blocked_steps for agent in agents]
    if memory is not None:
        episodes = sum(n > 0 for n in blocked)
        print(f"  blocked steps remembered: {sum(blocked)} in {episodes} episodes")
    stays = sum(agent.stays for agent in agents)
    if args.stay_check:
        print(f"  plans replaced by standing still: {stays}")
    stops = sum(agent.stops for agent in agents)
    if args.stop_latent:
        print(f"  plans skipped or cut short to stand still (stop test): {stops}")
    cfg = planner.config
    return {
        "row": label,
        "planner": args.planner,
        "planner_config": {
            k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("low", "high")
        },
        "samples": samples,
        "iterations": iterations,
        "horizon_steps": args.horizon,
        "hold": args.hold,
        "eval_s": round(time.time() - start, 1),
        "failures": failures,
        "failed_by_door": doors,
        "adaptations": sum(adaptations),
        "episodes_adapted": sum(n > 0 for n in adaptations),
        "blocked_steps": sum(blocked),
        "episodes_blocked": sum(n > 0 for n in blocked),
        "stays": stays,
        "stops": stops,
        **result.to_dict(episodes=args.episodes),
    }


def random_row(args: argparse.Namespace, tasks: list) -> dict[str, Any]:
    result: PlanningResult = evaluate_planning(
        lambda: make_env(TWO_ROOM, obs="state"),
        lambda env, task: RandomAgent(env.action_space, seed=args.seed),
        tasks,
        args.max_steps,
    )
    print(f"{'random actions':<28}: {result.summary()}")
    return {"row": "random actions", **result.to_dict(episodes=args.episodes)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default=None, help="a trained run directory to evaluate")
    p.add_argument("--planner", default="cem", help="cem, icem, mppi or gradient")
    p.add_argument("--samples", type=int, default=256, help="candidates per iteration")
    p.add_argument("--iterations", type=int, default=4, help="iterations per plan")
    p.add_argument("--horizon", type=int, default=25, help="planning horizon (steps)")
    p.add_argument("--execute-steps", type=int, default=4, help="actions executed per plan")
    p.add_argument("--hold", type=int, default=1, help="steps each planned action is held")
    p.add_argument("--distance", default="squared", choices=("squared", "l2"))
    p.add_argument("--mean-weight", type=float, default=0.0, help="GoalObjective mean_weight")
    p.add_argument(
        "--goal-stride", type=int, default=1, help="GoalObjective stride (every K-th step)"
    )
    p.add_argument("--objective", default="sum", choices=("sum", "last"), help="goal cost mode")
    p.add_argument(
        "--deadline",
        action="store_true",
        help="plans count only the steps left before --max-steps (the task's scoring time)",
    )
    add_goal_cost_args(p)  # --goal-space, --probe-steps, --uncertainty-weight
    add_adapt_args(p)  # --adapt-steps, --adapt-threshold, --adapt-lr, --adapt-window
    p.add_argument("--pairs", type=int, default=200, help="start/goal pairs")
    p.add_argument("--seed", type=int, default=0, help="seed of the task set")
    p.add_argument(
        "--planner-seed",
        type=int,
        default=0,
        help="seed of the planner's samples (the same model and pairs with another draw)",
    )
    p.add_argument(
        "--gate-floor",
        type=float,
        default=None,
        help="close the run's gates below this in imagination (default: the run's gate_floor)",
    )
    p.add_argument(
        "--skip",
        type=int,
        default=0,
        help="run tasks skip..pairs-1 of the set (split one protocol over processes)",
    )
    p.add_argument("--max-steps", type=int, default=200, help="steps per episode")
    p.add_argument("--budgets", default="", help="sweep SAMPLESxITERATIONS, e.g. 64x2,256x4")
    p.add_argument("--no-ceiling", action="store_true", help="skip the true-simulator rows")
    p.add_argument("--episodes", action="store_true", help="keep per-episode rows in the JSON")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--verbose", action="store_true", help="print every episode")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/tworoom_planning.json"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if not 0 <= args.skip < args.pairs:
        raise SystemExit(f"--skip must be in [0, --pairs), got {args.skip}")
    tasks = two_room_tasks(args.pairs, args.seed)[args.skip :]
    adapt = adapt_config(args)  # the run's rows only: the true simulator is exact
    memory = memory_config(args)
    started = time.time()
    result: dict[str, Any] = {
        "command": "python benchmarks/bench_tworoom_planning.py " + " ".join(sys.argv[1:]),
        "protocol": {
            "env": TWO_ROOM,
            "pairs": args.pairs,
            "tasks_run": [args.skip, args.pairs],
            "task_seed": args.seed,
            "max_steps": args.max_steps,
            "success": "final distance < 4.5 px after the last step",
            "start_goal": "different rooms, random wall and door (two_room_tasks)",
            "goal_given_as": "goal observation encoded with model.encode_goal",
        },
        "machine": machine(),
        "objective": {
            "kind": "GoalObjective" + (" + UncertaintyPenalty" if args.uncertainty_weight else ""),
            "mode": args.objective,
            "distance": args.distance,
            "mean_weight": args.mean_weight,
            "stride": args.goal_stride,
            "temporal_extra_data": list(args.temporal_extra_data),
            "deadline": args.deadline,
            "space": args.goal_space,
            "uncertainty_weight_run": args.uncertainty_weight,
        },
        "execute_steps": args.execute_steps,
        "adapt": dataclasses.asdict(adapt) if adapt else None,
        "memory": dataclasses.asdict(memory) if memory else None,
        "stay_check": args.stay_check,
        "drift_free": args.drift_free,
        "stop_latent": args.stop_latent,
        "stop_each_step": args.stop_each_step,
        "visits": dataclasses.asdict(visit_config(args)) if args.visit_weight else None,
        "rows": [random_row(args, tasks)],
    }

    # label, (model, readout), uncertainty weight, adaptation, blocked-move memory, visit cost
    models: list[tuple[str, Any, float, Any, Any, Any]] = []
    if not args.no_ceiling:  # the true simulator is exact: nothing to penalize or adapt
        sim = load_goal_model(
            TRUE_SIM,
            TWO_ROOM,
            args.goal_space,
            args.probe_steps,
            args.temporal_steps,
            args.temporal_data or (read_run_dataset(args.run).get("path") if args.run else None),
        )
        models.append((f"true simulator ({TRUE_SIM})", sim, 0.0, None, None, None))
    if args.run:
        loaded = load_goal_model(
            args.run,
            TWO_ROOM,
            args.goal_space,
            args.probe_steps,
            args.temporal_steps,
            temporal_extra=tuple(args.temporal_extra_data),
        )
        check_uncertainty(loaded[0], args.uncertainty_weight, args.run)
        if args.gate_floor is not None:
            set_gate_floor(loaded[0], args.gate_floor)
        models.append(
            (f"run {args.run}", loaded, args.uncertainty_weight, adapt, memory, visit_config(args))
        )
    for label, model, weight, model_adapt, model_memory, model_visits in models:
        result["rows"].append(
            planning_row(
                model,
                args,
                tasks,
                args.samples,
                args.iterations,
                label,
                weight,
                model_adapt,
                model_memory,
                model_visits,
            )
        )
    budgets = parse_budgets(args.budgets)
    if budgets:
        curve = []
        for samples, iterations in budgets:
            for label, model, weight, model_adapt, model_memory, model_visits in models:
                row = planning_row(
                    model,
                    args,
                    tasks,
                    samples,
                    iterations,
                    label,
                    weight,
                    model_adapt,
                    model_memory,
                    model_visits,
                )
                curve.append({k: v for k, v in row.items() if k != "planner_config"})
        result["budget_curve"] = curve
    result["eval_s"] = round(time.time() - started, 1)
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    run_main(main, "bench_tworoom_planning")
