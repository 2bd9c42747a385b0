"""How does a gated TwoRoom state model stop at a wall: with its gate, or with its head?

For each of ``--pairs`` protocol tasks (``two_room_tasks``) whose start row is at least
``--door-margin`` px from the door, the real env pushes the agent straight at the middle wall
at full speed until it has stood still at the wall face for a few steps; the model folds in every
real observation. From that belief, three pushes into the wall (straight, and at the action
box's corners with a full y component toward or away from the door) are each split, for their
first step, into the model's two increments (the MLP head's and the gated action path's, in px
along x) with the action gate of the x entry, and held for ``--steps`` imagined steps: how far
into the wall (px beyond the true stop) and along it (px from the stop's row: a slide) the
imagined agent ends, and whether it ends in the other room. The env stops each of these steps in
full: the agent does not move, so both distances are 0 in the real world.

Works for ``obs-mlp`` runs on TwoRoom states (the latent is the standardized state, so px are
read without a probe). See docs/models.md, "A penalty on the head".

Run: python benchmarks/bench_gate_at_wall.py RUN [--pairs 100] [--steps 60] [--out JSON]
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

from forethought.core.errors import ForethoughtError
from forethought.envs import make_env
from forethought.envs.two_room import DOOR_HALF, which_room
from forethought.eval.goals import TWO_ROOM, two_room_tasks
from forethought.planning import obs_to_tensors
from forethought.training.load import load_run

SPEED = 2.45  # TwoRoom's full step
APPROACH_STEPS = 40  # enough to cross a room (at most 45 px) at full speed


def push_to_the_wall(env: Any, model: Any, task: dict) -> tuple[Any, np.ndarray, float]:
    """Push at the wall until the agent stands still; returns (belief, push (2,), stop x)."""
    obs, _ = env.reset(options=task)
    side = 1.0 if obs["state"][0] < task["wall_x"] else -1.0
    push = np.array([side * SPEED, 0.0], np.float32)
    with torch.no_grad():
        belief = model.observe(
            model.initial(1), obs_to_tensors({"state": obs["state"]}), torch.zeros(1, 2),
            torch.ones(1, dtype=torch.bool),
        )  # fmt: skip
        for _ in range(APPROACH_STEPS):
            obs = env.step(push)[0]
            belief = model.observe(
                belief, obs_to_tensors({"state": obs["state"]}),
                torch.from_numpy(push)[None], torch.zeros(1, dtype=torch.bool),
            )  # fmt: skip
    return belief, push, float(obs["state"][0])


def increments_px(model: Any, belief: Any, push: np.ndarray) -> tuple[float, float, float]:
    """(gate of the x entry, head's x increment in px, gated path's x increment in px)."""
    dyn, std = model.dynamics, float(model.encoder.std[0])
    a = model.encode_action(torch.from_numpy(push)[None], lead=1)[None]  # (1, 1, A)
    with torch.no_grad():
        free, gated = dyn.increments(belief.z[None], belief.h[None], a)
        gate = torch.sigmoid(dyn.gate(dyn.features(belief.z[None], belief.h[None], a)))[0, 0, 0]
    return float(gate), float(free[0, 0, 0]) * std, float(gated[0, 0, 0]) * std


SIDES = ("left", "right")  # the agent's room: it pushes +x from the left, -x from the right
# After the stop, pushes at full speed into the wall: straight, or with a full y component
# toward the door or away from it (the action box's corners, as planners pick them). The env
# stops a step that meets the wall in full, so the agent never moves.
DIRECTIONS = {"straight": 0.0, "diagonal toward the door": 1.0, "diagonal away": -1.0}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Medians over pushes, the share stopped by a closed gate (< 0.5), and crossings; printed."""
    if not rows:
        return None

    def median(values: list[float]) -> float:
        return round(float(np.median(values)), 4)

    into = {k: median([r["into_wall_px"][k] for r in rows]) for k in rows[0]["into_wall_px"]}
    along = {k: median([r["along_wall_px"][k] for r in rows]) for k in rows[0]["along_wall_px"]}
    out = {
        "pushes": len(rows),
        "gate_closed_share": round(float(np.mean([r["gate"] < 0.5 for r in rows])), 3),
        "gate_median": median([r["gate"] for r in rows]),
        "head_px_median": median([r["head_px"] for r in rows]),
        "gated_px_median": median([r["gated_px"] for r in rows]),
        "into_wall_px_max": {k: round(max(r["into_wall_px"][k] for r in rows), 3) for k in into},
        "into_wall_px_median": into,
        "along_wall_px_median": along,
        "along_wall_px_max": {k: round(max(r["along_wall_px"][k] for r in rows), 3) for k in along},
        "crossed": sum(r["crossed"] for r in rows),
    }
    print(
        f"{rows[0]['direction']}, {rows[0]['side']} room: {len(rows)} pushes; "
        f"gate closed in {out['gate_closed_share']:.0%} "
        f"(median gate {out['gate_median']}, head {out['head_px_median']} px + gated "
        f"{out['gated_px_median']} px toward the wall); imagined into the wall, median "
        f"{into} px, max {out['into_wall_px_max']}; along it, median {along} px; "
        f"{out['crossed']} end in the other room"
    )
    return out


def push_row(
    model: Any, belief: Any, push: np.ndarray, stop_x: float, task: dict, steps: int
) -> dict[str, Any]:
    """One push from the stop: the increments of its first step and its imagined path."""
    side = float(np.sign(push[0]))
    gate, head, gated = increments_px(model, belief, push)
    actions = torch.from_numpy(push)[None, None].expand(1, steps, 2).contiguous()
    with torch.no_grad():
        z = model.imagine(belief, actions).latents[0]  # (H, D)
    std, mean = model.encoder.std[:2], model.encoder.mean[:2]
    xy = (z[:, :2] * std + mean).double().numpy()  # (H, 2) imagined px
    x, y0 = xy[:, 0], float(belief.z[0, 1] * std[1] + mean[1])
    room = which_room(stop_x, task["wall_x"])
    return {
        "gate": gate,
        "head_px": side * head,  # toward the wall: +
        "gated_px": side * gated,
        "into_wall_px": {k: float(side * (x[k - 1] - stop_x)) for k in (10, 30, 60) if k <= steps},
        # The env stops a step into the wall whole: any imagined move along it is a slide.
        "along_wall_px": {k: float(abs(xy[k - 1, 1] - y0)) for k in (10, 30, 60) if k <= steps},
        "crossed": which_room(float(x[-1]), task["wall_x"]) == -room,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="a trained obs-mlp run on TwoRoom states")
    p.add_argument("--pairs", type=int, default=100, help="tasks to draw pushes from")
    p.add_argument("--steps", type=int, default=60, help="imagined pushes after the stop")
    p.add_argument("--door-margin", type=float, default=6.0, help="px between row and door")
    p.add_argument("--seed", type=int, default=0, help="seed of the task set")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/gate_at_wall.json"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    started = time.time()
    model = load_run(args.run).model.eval()
    if getattr(getattr(model, "dynamics", None), "gate", None) is None or not hasattr(
        model.encoder, "std"
    ):
        raise ForethoughtError(
            f"{args.run} is not a gated obs-mlp run (needs --model obs-mlp with gated_action)"
        )
    env = make_env(TWO_ROOM, obs="both")
    rows = []
    for task in two_room_tasks(args.pairs, args.seed):
        if abs(task["start"][1] - task["door_y"]) < DOOR_HALF + args.door_margin:
            continue  # the push would find the door
        belief, approach, stop_x = push_to_the_wall(env, model, task)
        side = float(np.sign(approach[0]))
        to_door = float(np.sign(task["door_y"] - task["start"][1]))
        for direction, dy in DIRECTIONS.items():
            push = np.array([approach[0], SPEED * dy * to_door], np.float32)
            rows.append(push_row(model, belief, push, stop_x, task, args.steps))
            rows[-1].update(side="left" if side > 0 else "right", direction=direction)
    if not rows:
        raise ForethoughtError("no task had its start row away from the door; raise --pairs")

    summary = {
        direction: {
            side: summarize([r for r in rows if (r["side"], r["direction"]) == (side, direction)])
            for side in SIDES
        }
        for direction in DIRECTIONS
    }
    write_result(
        args.out,
        {
            "command": "python benchmarks/bench_gate_at_wall.py " + " ".join(sys.argv[1:]),
            "run": args.run,
            "machine": machine(),
            "summary": summary,
            "eval_s": round(time.time() - started, 1),
        },
    )
    return 0


if __name__ == "__main__":
    run_main(main, "bench_gate_at_wall")
