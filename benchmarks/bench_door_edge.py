"""How wide does a TwoRoom model imagine the door? Pushes at the wall, offset from the door.

Most TwoRoom planning failures end pressed on the middle wall a few px outside a door edge
(``docs/benchmarks.md``): the model believes a push there goes through. For each of ``--pairs``
layouts of the planning protocol and each offset d in ``--offsets`` (px from the door's centre,
above and below in turn), the agent starts ``--start-gap`` px in front of the wall at the door's
y + d and pushes straight at it for ``--steps`` steps. The true simulator lets it through iff
|d| <= 4 (the opening spans the door's y +- 4 px); the model imagines the same pushes from the
first observation, and the run's state probe (as in ``bench_wall_contact.py``) reads whether the
imagined agent ends in the other room. Reported per offset: imagined and true crossings, and
for a gated predictor (``obs-mlp``, ``keypoint-mlp``) which path carries the imagined pushes: the
latent's move along the push action's response in the action map, summed over the push, from
the gated action and from the MLP head (30 steps through an open gate make 30), the x gate
at the first step (12 px from the wall: free space), and each path's move of the agent's x
toward the wall in px (through the probe's local slope); medians over the pushes. For a
``keypoint-mlp`` run also each keypoint map's spatial variance on the pushes' first frames
(0: one sharp place; a centroid of many places shifts when the agent's dot joins them).

Run: python benchmarks/bench_door_edge.py RUN [--pairs 40] [--gate-floor F] [--out JSON]
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
from bench_wall_contact import first_belief, imagine_from_first
from torch import Tensor

from forethought.envs import make_env
from forethought.envs.two_room import WALL_HALF, which_room
from forethought.eval.goals import TWO_ROOM, load_goal_model, two_room_tasks
from forethought.models import set_gate_floor
from forethought.models.gated_mlp import GatedMLPDynamics

OFFSETS = (0.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0)


@torch.no_grad()
def push_paths(
    model: Any, keys: tuple[str, ...], obs: dict, push: np.ndarray, probe: Any
) -> np.ndarray:
    """(head, gated, first gate, head px, gated px) of one imagined push: the summed moves of
    each path along the action map's response to the push's own action (1 = one such action's
    free move); the members' mean gate on the push's x action at the first step (per-latent
    gates: their mean weighted by how far the push moves each dim); and each path's summed move
    of the agent's x toward the wall in px, read through the probe's local slope at each
    imagined step (the response above is led by the dims the map moves most, which need not be
    the agent's). (5,)."""
    dyn: GatedMLPDynamics = model.dynamics
    a = model.encode_action(torch.from_numpy(push)[None], lead=2)  # (1, T, A)
    toward = float(np.sign(push[0, 0]))  # the push's x direction
    belief = first_belief(model, keys, obs)
    a0 = a[:, 0].expand(dyn.members, 1, -1)  # (M, 1, A)
    response = (dyn.gated(a0) - dyn.gated(torch.zeros_like(a0)))[:, 0].mean(0)  # (D,) free move
    unit = response / response.square().sum().clamp_min(1e-12)  # (D,)
    m = dyn.members
    z, h = belief.z.expand(m, 1, -1), belief.h.expand(m, 1, -1)  # (M, 1, D), (M, 1, D + A)
    moves = np.zeros(5)
    for k in range(a.shape[1]):
        ak = a[:, k].expand(m, 1, -1)  # (M, 1, A)
        if k == 0:
            gates = dyn.gates(z, h, ak)  # (M, 1, A), or (M, 1, D) per latent dim
            if dyn.gate_per_latent:  # weighted by how far the push moves each dim
                moves[2] = float((gates.mean(0)[0] * response.abs()).sum() / response.abs().sum())
            else:
                moves[2] = float(gates[..., 0].mean())
        free, through = dyn.increments(z, h, ak)  # (M, 1, D) each
        head, gated = free.mean(0)[0], through.mean(0)[0]  # (D,) members' mean
        slope = probe_x_slope(probe, z.mean(0)[0]) * toward  # (D,) px toward the wall per unit
        moves += [float(head @ unit), float(gated @ unit), 0.0,
                  float(head @ slope), float(gated @ slope)]  # fmt: skip
        h, z = torch.cat([z, ak], -1), z + free + through
    return moves


@torch.no_grad()
def keypoint_spread(model: Any, observations: list[dict]) -> list[float] | None:
    """Median over ``observations`` of each keypoint map's spatial variance (squared [-1, 1]
    units; ``SpatialSoftmax.locate_with_spread``), for a keypoint-mlp run (else None)."""
    images = getattr(getattr(model, "encoder", None), "images", None)
    if not images:
        return None
    pixels = torch.from_numpy(np.stack([o["pixels"] for o in observations]))  # (N, H, W, C)
    spread = images[0].locate(pixels)[1]  # (N, K)
    return [round(float(v), 4) for v in spread.median(0).values]


def probe_x_slope(probe: Any, z: Tensor) -> Tensor:
    """d probe_x / dz at one latent (D,): how far in px a latent step moves the read-out x."""
    with torch.enable_grad():
        z = z.detach().requires_grad_(True)
        return torch.autograd.grad(probe(z[None])[0, 0], z)[0]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="a trained TwoRoom run directory (or 'true-sim')")
    p.add_argument("--pairs", type=int, default=40, help="layouts (of two_room_tasks)")
    p.add_argument("--offsets", type=float, nargs="+", default=list(OFFSETS))
    p.add_argument("--start-gap", type=float, default=12.0, help="px in front of the wall")
    p.add_argument("--steps", type=int, default=30, help="push steps of 2 px")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument(
        "--gate-floor",
        type=float,
        default=None,
        help="close the run's gates below this in imagination (default: the run's gate_floor)",
    )
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/door_edge.json"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    started = time.time()
    model, probe = load_goal_model(args.run, TWO_ROOM, "probe")
    if args.gate_floor is not None:
        set_gate_floor(model, args.gate_floor)
    keys = tuple(getattr(getattr(model, "encoder", None), "keys", ("state",)))
    env = make_env(TWO_ROOM, obs="both")
    tasks = [t for t in two_room_tasks(4 * args.pairs, 0) if 15 <= t["door_y"] <= 49]
    dyn = getattr(model, "dynamics", None)
    gated = isinstance(dyn, GatedMLPDynamics) and dyn.gate is not None
    rows, firsts = [], []
    for d in args.offsets:
        imagined, true, paths = [], [], []
        for i, task in enumerate(tasks[: args.pairs]):
            wx = task["wall_x"]
            side = -1.0 if task["start"][0] < wx else 1.0  # the start room's side
            y = task["door_y"] + (d if i % 2 == 0 else -d)
            obs, _ = env.reset(
                options={**task, "start": (wx + side * (WALL_HALF + 0.5 + args.start_gap), y)}
            )
            push = np.array([[-side * 2.0, 0.0]] * args.steps, dtype=np.float32)  # (T, 2)
            firsts.append(obs)
            for a in push:
                last = env.step(a)[0]
            rollout = imagine_from_first(model, keys, obs, push)
            if gated:
                paths.append(push_paths(model, keys, obs, push, probe))
            with torch.no_grad():
                end = probe(rollout.latents[0, -1:])  # (1, 2)
            imagined.append(which_room(float(end[0, 0]), wx) == -side)
            true.append(which_room(float(last["state"][0]), wx) == -side)
        row = {
            "offset_px": d,
            "pushes": len(true),
            "true_crossings": int(np.sum(true)),
            "imagined_crossings": int(np.sum(imagined)),
        }
        if paths:
            med = np.median(np.array(paths), 0)  # (5,)
            row |= {"median_head_move": round(float(med[0]), 3),
                    "median_gated_move": round(float(med[1]), 3),
                    "median_first_gate": round(float(med[2]), 3),
                    "median_head_px": round(float(med[3]), 2),
                    "median_gated_px": round(float(med[4]), 2)}  # fmt: skip
        rows.append(row)
        print(
            f"offset {d:4.1f} px: imagined {row['imagined_crossings']:>2} / "
            f"true {row['true_crossings']:>2} crossings of {len(true)}"
            + (
                f"; median move: head {row['median_head_move']:+.2f}, gated "
                f"{row['median_gated_move']:+.2f}; first gate {row['median_first_gate']:.2f}; "
                f"agent x px: head {row['median_head_px']:+.1f}, gated "
                f"{row['median_gated_px']:+.1f}"
                if paths
                else ""
            )
        )
    spread = keypoint_spread(model, firsts)
    if spread is not None:
        print("keypoint maps' spatial variance, median over the first frames:", spread)
    write_result(
        args.out,
        {
            "command": "python benchmarks/bench_door_edge.py " + " ".join(sys.argv[1:]),
            "run": args.run,
            "protocol": {
                "layouts": f"the first {args.pairs} of two_room_tasks(, seed=0) with the door "
                "in 15..49 px",
                "push": f"{args.steps} steps of 2 px at the wall from {args.start_gap} px in "
                "front of it, the offset above and below the door's centre in turn",
                "reading": "MLP state probe fitted on the run's training episodes",
                "paths": "median over the pushes of the summed moves of the MLP head and of "
                "the gated action along the action map's response to the push (1 = one "
                "action's free move), of the first step's gate, and of each path's move of "
                "the agent's x toward the wall in px through the probe's local slope (gated "
                "predictors only)",
            },
            "machine": machine(),
            "rows": rows,
            "keypoint_spread": spread,
            "eval_s": round(time.time() - started, 1),
        },
    )
    return 0


if __name__ == "__main__":
    run_main(main, "bench_door_edge")
