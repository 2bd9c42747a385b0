"""Does a TwoRoom model's imagination respect walls? Sustained pushes, imagined against true.

For each of ``--pairs`` tasks of the planning protocol (``two_room_tasks``: start and goal in
different rooms), the agent pushes in a straight line toward the goal at ``--speed`` px per step
for ``--steps`` steps. The true simulator stops it at the wall unless the door happens to be on
the line; the model imagines the same actions from the first observation, and a state probe
(fitted on the run's training episodes, as in ``forethought evaluate``) reads the imagined
positions. Reported per k: the mean distance between imagined and true positions, and the share
of pushes whose true path stays in the start room but whose imagined path ends in the other room
("imagined wall crossings"): the shortcut a planner exploits when its model leaks through walls.
For an ensemble, also the median disagreement on steps the wall blocked against free steps.

Run: python benchmarks/bench_wall_contact.py RUN [--pairs 100] [--steps 60] [--out JSON]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _results import machine, write_result

from forethought.envs import make_env
from forethought.envs.two_room import which_room
from forethought.eval.goals import TWO_ROOM, load_goal_model, two_room_tasks
from forethought.planning import obs_to_tensors

KS = (1, 5, 10, 20, 30, 40, 60)


def push(env: Any, task: dict, steps: int, speed: float) -> tuple[Any, np.ndarray, np.ndarray]:
    """Reset to ``task`` and push toward its goal: (first obs, actions (T, 2), true xy (T, 2))."""
    obs, _ = env.reset(options=task)
    heading = np.asarray(task["goal"], dtype=np.float64) - obs["state"][:2]
    action = (speed * heading / np.linalg.norm(heading)).astype(np.float32)  # (2,)
    actions = np.repeat(action[None], steps, 0)  # (T, 2)
    true = np.array([env.step(a)[0]["state"][:2] for a in actions], dtype=np.float64)  # (T, 2)
    return obs, actions, true


@torch.no_grad()
def first_belief(model: Any, keys: tuple[str, ...], obs: dict) -> Any:
    """The model's belief after the single observation ``obs`` (an episode's first)."""
    first = obs_to_tensors({k: obs[k] for k in keys})
    start = torch.ones(1, dtype=torch.bool)
    return model.observe(model.initial(1), first, torch.zeros(1, 2), start)


def imagine_from_first(model: Any, keys: tuple[str, ...], obs: dict, actions: np.ndarray) -> Any:
    """The model's rollout of (T, A) ``actions`` from the single observation ``obs``."""
    with torch.no_grad():
        return model.imagine(first_belief(model, keys, obs), torch.from_numpy(actions)[None])


def summarize_disagreement(d: dict[str, list[float]]) -> dict[str, Any] | None:
    """Median per-step disagreement on steps the wall blocked (< 0.5 px moved) and on free ones."""
    if not d["blocked"] or not d["free"]:
        return None
    blocked, free = float(np.median(d["blocked"])), float(np.median(d["free"]))
    print(
        f"disagreement per step, median: blocked {blocked:.4g} (n={len(d['blocked'])}), "
        f"free {free:.4g} (n={len(d['free'])}), ratio {blocked / free:.2f}"
    )
    return {
        "blocked_median": round(blocked, 6),
        "blocked_steps": len(d["blocked"]),
        "free_median": round(free, 6),
        "free_steps": len(d["free"]),
        "ratio": round(blocked / free, 3),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="a trained TwoRoom run directory (or 'true-sim')")
    p.add_argument("--pairs", type=int, default=100, help="tasks (pushes)")
    p.add_argument("--steps", type=int, default=60, help="steps per push")
    p.add_argument("--speed", type=float, default=2.0, help="px per step (max 2.45)")
    p.add_argument("--seed", type=int, default=0, help="seed of the task set")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/wall_contact.json"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    started = time.time()
    model, probe = load_goal_model(args.run, TWO_ROOM, "probe")
    keys = tuple(getattr(getattr(model, "encoder", None), "keys", ("state",)))
    env = make_env(TWO_ROOM, obs="both")
    errors, crossings, stays = [], [], []
    disagreement: dict[str, list[float]] = {"blocked": [], "free": []}
    for task in two_room_tasks(args.pairs, args.seed):
        obs, actions, true = push(env, task, args.steps, args.speed)
        rollout = imagine_from_first(model, keys, obs, actions)
        with torch.no_grad():
            imagined = probe(rollout.latents[0]).double().numpy()  # (T, 2)
        if rollout.disagreement is not None:  # ensembles: is the model unsure where it is wrong?
            moved = np.linalg.norm(
                np.diff(np.vstack([obs["state"][None, :2], true]), axis=0), axis=1
            )
            d = rollout.disagreement[0].double().numpy()  # (T,)
            disagreement["blocked"] += d[moved < 0.5].tolist()
            disagreement["free"] += d[moved > 0.5].tolist()
        errors.append(np.linalg.norm(imagined - true, axis=1))
        wall_x = task["wall_x"]
        start_room = which_room(float(obs["state"][0]), wall_x)
        stayed = [which_room(float(x), wall_x) == start_room for x in true[:, 0]]
        stays.append(stayed)
        crossings.append([which_room(float(x), wall_x) == -start_room for x in imagined[:, 0]])
    err = np.array(errors)  # (N, T)
    stay, cross = np.array(stays), np.array(crossings)  # (N, T) bool
    rows = []
    for k in (k for k in KS if k <= args.steps):
        blocked = stay[:, k - 1]  # the true agent is still in its start room at step k
        rows.append(
            {
                "k": k,
                "error_px": round(float(err[:, k - 1].mean()), 3),
                "pushes_still_in_start_room": int(blocked.sum()),
                "imagined_crossings": int((blocked & cross[:, k - 1]).sum()),
            }
        )
        print(
            f"k={k:>2}: imagined vs true {rows[-1]['error_px']:6.2f} px; "
            f"{rows[-1]['imagined_crossings']}/{rows[-1]['pushes_still_in_start_room']} "
            "pushes the wall stops are imagined in the other room"
        )
    write_result(
        args.out,
        {
            "command": "python benchmarks/bench_wall_contact.py " + " ".join(sys.argv[1:]),
            "run": args.run,
            "protocol": {
                "tasks": f"two_room_tasks({args.pairs}, seed={args.seed})",
                "push": f"{args.steps} steps of {args.speed} px toward the goal",
                "reading": "MLP state probe fitted on the run's training episodes",
            },
            "machine": machine(),
            "rows": rows,
            "disagreement": summarize_disagreement(disagreement),
            "eval_s": round(time.time() - started, 1),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
