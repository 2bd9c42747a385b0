"""Does a temporal-distance head know the wall? Its distances against TwoRoom's shortest paths.

For ``--tasks`` layouts of the TwoRoom protocol (a task seed other than the planning
benchmark's), with the goal in the other room, the head's distance to the goal is read at
``--points`` random free points of the start room and along the start room's face of the wall:

- ``spearman_temporal`` / ``spearman_euclid``: mean rank correlation (over tasks) of the head's
  distance, and of the straight-line distance, with the shortest-path length (through the door:
  straight segments via the door's middle column, exact up to the wall's 3 px thickness);
- ``door_found``: share of tasks where the head's distance along the wall is smallest within the
  door's rows (the straight-line distance is smallest at the goal's row instead).

The head is either fitted on a dataset's true states (``--data DATA``, the head the true
simulator plans with) or a run's (``--run RUN``: its latents of the points' rendered frames).

With ``--plan JSON`` (the output of ``bench_tworoom_planning.py --episodes`` for the same
``--run``) the door test is also read on the planning benchmark's own layouts, one per pair, and
crossed with each episode's outcome (``door_by_outcome``): do the failures sit where the head
misses the door?

    python benchmarks/bench_temporal_distance.py --data DATA [--steps N] --out JSON
    python benchmarks/bench_temporal_distance.py --run RUN [--plan PLAN_JSON] [--extra-data
        DATA ...] --out JSON
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _results import machine, run_main, write_result
from scipy.stats import spearmanr

from forethought.envs import make_env
from forethought.envs.two_room import DOOR_HALF, EVAL_MARGIN, WALL_HALF, is_free
from forethought.eval.goals import TWO_ROOM, two_room_door_band, two_room_tasks
from forethought.models.temporal_distance import TemporalDistanceConfig


def path_length(p: np.ndarray, q: np.ndarray, wall_x: int, door_y: int) -> float:
    """Shortest-path length between two free points (straight if in one room, else via the
    door's middle column)."""
    if (p[0] < wall_x) == (q[0] < wall_x):
        return float(np.hypot(*(p - q)))
    ys = np.linspace(door_y - DOOR_HALF + 1, door_y + DOOR_HALF - 1, 25)
    legs = np.hypot(p[0] - wall_x, p[1] - ys) + np.hypot(q[0] - wall_x, q[1] - ys)  # (25,)
    return float(legs.min())


def start_room_points(task: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` free points (x, y) of the start's room. (n, 2)"""
    wall_x, door_y = task["wall_x"], task["door_y"]
    side = np.sign(task["start"][0] - wall_x)
    out: list[tuple[float, float]] = []
    while len(out) < n:
        x, y = rng.uniform(5, 59, size=2)
        if np.sign(x - wall_x) == side and is_free(x, y, wall_x, door_y, EVAL_MARGIN):
            out.append((x, y))
    return np.array(out)


def wall_points(task: dict) -> np.ndarray:
    """Points along the start room's face of the wall, 3 px in front of it, 1 px apart. (M, 2)"""
    side = np.sign(task["start"][0] - task["wall_x"])
    x = task["wall_x"] + side * (WALL_HALF + 0.5 + EVAL_MARGIN)
    ys = np.arange(5.0 + EVAL_MARGIN, 59.0 - EVAL_MARGIN, 1.0)
    return np.stack([np.full_like(ys, x), ys], 1)


def state_distance(phi: Any) -> Any:
    """(task, points (M, 2), goal (2,)) -> distances (M,) of a head on exact states."""

    def dist(task: dict, pts: np.ndarray, goal: np.ndarray) -> np.ndarray:
        layout = [task["wall_x"], task["door_y"]]
        z = torch.tensor([[*p, *layout] for p in pts], dtype=torch.float32)
        g = torch.tensor([[*goal, *layout]], dtype=torch.float32)
        return (phi(z) - phi(g)).norm(dim=-1).numpy()

    return dist


def run_distance(run: Any, phi: Any) -> Any:
    """(task, points, goal) -> distances of a run's head on the latents of rendered frames."""
    from forethought.planning import obs_to_tensors

    env = make_env(TWO_ROOM, obs="both")

    def encode(task: dict, pts: np.ndarray) -> torch.Tensor:
        frames = []
        for p in pts:
            obs, _ = env.reset(options={**task, "start": p, "goal": p})
            frames.append(obs_to_tensors(obs))
        obs = {k: torch.cat([f[k] for f in frames]) for k in frames[0]}
        with torch.no_grad():
            return run.model.encode_goal(obs)  # (M, D)

    def dist(task: dict, pts: np.ndarray, goal: np.ndarray) -> np.ndarray:
        z, g = encode(task, pts), encode(task, goal[None])
        return (phi(z) - phi(g)).norm(dim=-1).numpy()

    return dist


def door_found(dist: Any, task: dict) -> bool:
    """Whether the head's distance to the goal along the start room's wall face is smallest
    within the door's rows."""
    along = wall_points(task)
    best_y = along[int(np.argmin(dist(task, along, np.asarray(task["goal"], np.float64)))), 1]
    return bool(abs(best_y - task["door_y"]) <= DOOR_HALF + 0.5)


def read_plan(plan_json: Path) -> tuple[str, list[dict], list[dict]]:
    """A planning benchmark's run row: its label, its pairs' tasks and their episodes."""
    from forethought.core.errors import ForethoughtError

    if not plan_json.is_file():
        raise ForethoughtError(
            f"--plan {plan_json}: no such file; give the JSON of bench_tworoom_planning.py "
            "--run RUN --episodes"
        )
    try:
        plan = json.loads(plan_json.read_text())
        rows = [r for r in plan["rows"] if r["row"].startswith("run ") and "episodes" in r]
        skip, pairs = (int(v) for v in plan["protocol"]["tasks_run"])
        seed = int(plan["protocol"]["task_seed"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ForethoughtError(
            f"--plan {plan_json}: not a bench_tworoom_planning.py result (rows, protocol); give "
            "the JSON of bench_tworoom_planning.py --run RUN --episodes"
        ) from None
    if not rows:
        raise ForethoughtError(
            f"--plan {plan_json} has no episodes of a run; run bench_tworoom_planning.py "
            "with --run RUN --episodes"
        )
    episodes = rows[0]["episodes"]
    tasks = two_room_tasks(pairs, seed)[skip:]
    if len(tasks) != len(episodes):
        raise ForethoughtError(
            f"--plan {plan_json}: {len(episodes)} episodes for pairs {skip}..{pairs}; give an "
            "unmerged bench_tworoom_planning.py --episodes result"
        )
    return rows[0]["row"], tasks, episodes


def door_by_outcome(dist: Any, plan: tuple[str, list[dict], list[dict]]) -> dict[str, Any]:
    """Door test on the layouts of a planning benchmark's pairs, crossed with their outcomes."""
    row, tasks, episodes = plan
    counts = {"found_success": 0, "found_failure": 0, "missed_success": 0, "missed_failure": 0}
    by_door = {"edge": [0, 0], "centre": [0, 0]}  # door found, layouts; per door band
    for task, ep in zip(tasks, episodes, strict=True):
        found = door_found(dist, task)
        key = ("found" if found else "missed") + ("_success" if ep["success"] else "_failure")
        counts[key] += 1
        band = by_door[two_room_door_band(task)]
        band[0] += int(found)
        band[1] += 1
    return {"row": row, "pairs": len(episodes), **counts, "found_by_door": by_door}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="fit the head on this dataset's true states")
    src.add_argument("--run", help="fit (or load) the head of this run directory")
    p.add_argument("--steps", type=int, default=None, help="fit steps (default: the config's)")
    p.add_argument("--n-step", type=int, default=None, help="TD steps (default: the config's)")
    p.add_argument("--expectile", type=float, default=None, help="default: the config's")
    p.add_argument("--gamma", type=float, default=None, help="default: the config's")
    p.add_argument("--width", type=int, default=None, help="hidden width (default: the config's)")
    p.add_argument("--seed", type=int, default=None, help="fit seed (default: the config's)")
    p.add_argument(
        "--plan",
        type=Path,
        default=None,
        help="with --run: a bench_tworoom_planning.py --episodes JSON of this run; crosses the "
        "door test on its pairs' layouts with their outcomes",
    )
    p.add_argument(
        "--extra-data",
        nargs="+",
        default=[],
        metavar="DATA",
        help="with --run: fit the head on these datasets' episodes too (--temporal-extra-data)",
    )
    p.add_argument("--tasks", type=int, default=100, help="layouts to score (default 100)")
    p.add_argument("--points", type=int, default=50, help="start-room points per layout")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.plan and not args.run:
        raise SystemExit("--plan needs --run RUN (the run the planning benchmark used)")
    plan = read_plan(args.plan) if args.plan else None  # checked before the fit

    from forethought.eval.temporal import fit_dataset_temporal, fit_run_temporal

    overrides = {  # the fit flags are named after the config's fields
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(TemporalDistanceConfig)
        if getattr(args, f.name, None) is not None
    }
    cfg = TemporalDistanceConfig(**overrides)
    start = time.time()
    if args.data:
        phi = fit_dataset_temporal(args.data, "state", cfg)
        dist = state_distance(phi)
    else:
        from forethought.training.load import load_run

        run = load_run(args.run)
        phi = fit_run_temporal(run, cfg, extra=tuple(args.extra_data))
        dist = run_distance(run, phi)
    fit_s = time.time() - start

    rng = np.random.default_rng(0)
    rho_t, rho_e, door = [], [], []
    for task in two_room_tasks(args.tasks, seed=1):
        goal = np.asarray(task["goal"], dtype=np.float64)
        pts = start_room_points(task, args.points, rng)
        truth = [path_length(q, goal, task["wall_x"], task["door_y"]) for q in pts]
        rho_t.append(spearmanr(dist(task, pts, goal), truth)[0])
        rho_e.append(spearmanr(np.hypot(*(pts - goal).T), truth)[0])
        door.append(door_found(dist, task))
    result = {
        "command": "python benchmarks/bench_temporal_distance.py " + " ".join(sys.argv[1:]),
        "source": {"data": args.data}
        if args.data
        else {"run": args.run, "extra_data": list(args.extra_data)},
        "config": dataclasses.asdict(cfg),
        "fit_s": round(fit_s, 1),
        "tasks": args.tasks,
        "points_per_task": args.points,
        "spearman_temporal": round(float(np.mean(rho_t)), 4),
        "spearman_euclid": round(float(np.mean(rho_e)), 4),
        "door_found": round(float(np.mean(door)), 4),
        "machine": machine(),
    }
    if plan is not None:
        result["door_by_outcome"] = {"plan": str(args.plan), **door_by_outcome(dist, plan)}
    print(
        f"rank correlation with the shortest path: temporal {result['spearman_temporal']:.3f}, "
        f"straight line {result['spearman_euclid']:.3f}; minimum along the wall at the door "
        f"in {100 * result['door_found']:.0f}% of {args.tasks} layouts (fit {fit_s:.0f}s)"
    )
    if plan is not None:
        c = result["door_by_outcome"]
        print(
            f"on the {c['pairs']} planning pairs: door found {c['found_success']} succeeded / "
            f"{c['found_failure']} failed; door missed {c['missed_success']} succeeded / "
            f"{c['missed_failure']} failed; found at "
            + ", ".join(f"{k} doors {f} of {n}" for k, (f, n) in c["found_by_door"].items())
        )
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    run_main(main, "bench_temporal_distance")
