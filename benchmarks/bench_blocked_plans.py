"""Why does a TwoRoom agent stall at the middle wall? Its plans there, imagined against real.

Runs the planning benchmark's 200 pairs with the 60-step search of docs/benchmarks.md (iCEM
128x2 over 60 steps held 6, 6 actions per plan, last-step L2 + ``--mean-weight`` x mean of the
temporal goal cost read every 6th step, ``--deadline``) and records every plan. For each plan made
with the agent at the middle wall's face in its start room (within ``--near`` px), the run's
state probe reads the imagined path, and the plan's actions also run from the agent's true state
in ``TwoRoomSimModel`` (the env's exact dynamics). Reported per episode outcome (failed pressed
on the middle wall in the start room; failed otherwise; succeeded):

- plans at the wall, and the share whose imagined path enters the other room through the wall
  outside the door (a leak: the env stops every such path);
- for the plans the env blocked (the agent ended their executed steps where it started), the
  imagined move over those steps into the wall and along it. The env stops a step into the
  wall whole, so both are 0 in the real world; a move along the wall is a slide the env does not
  have.

Needs a run whose data carries TwoRoom's states (``--obs both``: the probe). The episodes and
their outcomes are the planning benchmark's (``bench_tworoom_planning.py`` with the same flags).

Run: python benchmarks/bench_blocked_plans.py RUN [--pairs 200] [--out JSON]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _results import machine, run_main, write_result

from forethought.envs import make_env
from forethought.envs.two_room import DOOR_HALF, WALL_HALF
from forethought.eval.closed_loop import evaluate_planning
from forethought.eval.goals import (
    TWO_ROOM,
    budget_planner,
    goal_agent_factory,
    goal_objective,
    load_goal_model,
    two_room_failures,
    two_room_tasks,
)
from forethought.eval.offline import fit_run_probe
from forethought.planning import TwoRoomSimModel
from forethought.training.load import load_run

HORIZON, HOLD, EXECUTE, STRIDE, STEPS = 60, 6, 6, 6, 200  # the 60-step search of the benchmark


class PlanRecorder:
    """An agent's stand-in that records, for each fresh plan, the true state it was made in, its
    actions and their imagined latents; everything else goes to the agent."""

    def __init__(self, agent: Any) -> None:
        self.agent, self.plans, self._seen = agent, [], None

    @property
    def plan_times(self) -> list[float]:
        return self.agent.plan_times

    def reset(self, obs: Any) -> None:
        self.agent.reset(obs)

    def act(self, obs: Any, prev_action: Any = None) -> Any:
        state = torch.as_tensor(obs["state"]).float()  # (4,) [x, y, wall_x, door_y]
        action = self.agent.act(obs, prev_action)
        result = self.agent.last_result
        if result is not self._seen:  # this call planned
            self._seen = result
            with torch.no_grad():
                latents = self.agent.model.imagine(self.agent.belief, result.actions[None])
            self.plans.append((state, result.actions, latents.latents[0]))
        return action


def true_path(sim: TwoRoomSimModel, state: torch.Tensor, actions: torch.Tensor) -> np.ndarray:
    """(H, 2) true positions of (H, 2) ``actions`` from the (4,) ``state``."""
    first = torch.ones(1, dtype=torch.bool)
    belief = sim.observe(sim.initial(1), {"state": state[None]}, torch.zeros(1, 2), first)
    return sim.imagine(belief, actions[None]).latents[0, :, :2].double().numpy()


def wall_rows(task: dict, plans: list, probe: Any, sim: TwoRoomSimModel, near: float) -> list:
    """One row per plan made at the middle wall's face in the start room."""
    wall, door = float(task["wall_x"]), float(task["door_y"])
    side = float(np.sign(task["start"][0] - wall))  # -1: the left room
    face = wall + side * (WALL_HALF + 0.5)
    rows = []
    for state, actions, latents in plans:
        pos = state[:2].double().numpy()  # (2,)
        if side * (pos[0] - face) > near or side * (pos[0] - wall) <= 0:
            continue
        with torch.no_grad():
            imagined = probe(latents).double().numpy()  # (H, 2)
        crossed = np.nonzero(side * (imagined[:, 0] - wall) < 0)[0]
        leak = bool(len(crossed)) and abs(imagined[crossed[0], 1] - door) > DOOR_HALF + 0.5
        real = true_path(sim, state, actions)
        row: dict[str, Any] = {"leak": leak}
        if np.abs(real[EXECUTE - 1] - pos).max() < 1e-2:  # blocked
            row["into_px"] = float(-side * (imagined[EXECUTE - 1, 0] - pos[0]))
            row["along_px"] = float(abs(imagined[EXECUTE - 1, 1] - pos[1]))
        rows.append(row)
    return rows


def summarize(rows: list[dict], episodes: int) -> dict[str, Any]:
    """Counts, the leak share, and medians / p90 of the blocked plans' imagined moves."""
    blocked = [r for r in rows if "into_px" in r]

    def quantiles(key: str) -> list[float]:
        values = [r[key] for r in blocked]
        return [round(float(np.percentile(values, q)), 2) for q in (50, 90)] if values else []

    return {
        "episodes": episodes,
        "plans_at_wall": len(rows),
        "leak_share": round(float(np.mean([r["leak"] for r in rows])), 3) if rows else None,
        "blocked_plans": len(blocked),
        "into_wall_px_q50_q90": quantiles("into_px"),
        "along_wall_px_q50_q90": quantiles("along_px"),
    }


def outcome(task: dict, episode: Any) -> str:
    """``start_room_at_wall``, ``failed_elsewhere`` or ``succeeded``."""
    if episode.success:
        return "succeeded"
    kinds = two_room_failures([task], [episode])
    return "start_room_at_wall" if kinds["start_room_at_wall"] else "failed_elsewhere"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="a trained TwoRoom run whose data has states (--obs both)")
    p.add_argument("--pairs", type=int, default=200, help="start/goal pairs")
    p.add_argument("--seed", type=int, default=0, help="seed of the task set")
    p.add_argument("--mean-weight", type=float, default=0.1, help="GoalObjective mean_weight")
    p.add_argument("--near", type=float, default=2.0, help="px from the wall face: at the wall")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/blocked_plans.json"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    started = time.time()
    model, readout = load_goal_model(args.run, TWO_ROOM, "temporal")
    probe = fit_run_probe(load_run(args.run))
    env_fn = lambda: make_env(TWO_ROOM, obs="both")  # noqa: E731
    planner = budget_planner("icem", env_fn().action_space, HORIZON, 128, 2, HOLD)
    objective = goal_objective("last", "l2", args.mean_weight, readout, 0.0, STRIDE)
    make_agent = goal_agent_factory(model, planner, EXECUTE, objective, step_budget=STEPS)
    recorders: list[PlanRecorder] = []

    def recorded(env: Any, task: Any) -> PlanRecorder:
        recorders.append(PlanRecorder(make_agent(env, task)))
        return recorders[-1]

    tasks = two_room_tasks(args.pairs, args.seed)
    with torch.no_grad():
        result = evaluate_planning(env_fn, recorded, tasks, STEPS)
    print(f"{result.summary()}; failures {two_room_failures(tasks, result.episodes)}")
    sim = TwoRoomSimModel()
    rows: dict[str, list[dict]] = {}
    episodes: dict[str, int] = {}
    for task, episode, rec in zip(tasks, result.episodes, recorders, strict=True):
        kind = outcome(task, episode)
        rows.setdefault(kind, []).extend(wall_rows(task, rec.plans, probe, sim, args.near))
        episodes[kind] = episodes.get(kind, 0) + 1
    summary = {kind: summarize(rows[kind], episodes[kind]) for kind in sorted(rows)}
    for kind, s in summary.items():
        print(
            f"{kind}: {s['episodes']} episodes, {s['plans_at_wall']} plans at the wall, "
            f"{s['leak_share']} imagine a leak through it; {s['blocked_plans']} blocked plans "
            f"imagine {s['into_wall_px_q50_q90']} px into the wall and "
            f"{s['along_wall_px_q50_q90']} px along it over {EXECUTE} steps (median, p90)"
        )
    write_result(
        args.out,
        {
            "command": "python benchmarks/bench_blocked_plans.py " + " ".join(sys.argv[1:]),
            "run": args.run,
            "machine": machine(),
            "planning": result.summary(),
            "summary": summary,
            "eval_s": round(time.time() - started, 1),
        },
    )
    return 0


if __name__ == "__main__":
    run_main(main, "bench_blocked_plans")
