"""One-step prediction error on real TwoRoom transitions, by where they start: free space, the
wall face far from the door, the wall face beside a door edge, and inside the opening at an edge.

Planned paths through the door pass the door's edges, so a model that lets a push through
there (the true env stops a step at the first wall on its way, without sliding) leaves the
agent pressing on the wall while the plan says it is through. For each transition t -> t+1 of
``--data`` (held-out episodes with true states, e.g. collected with another seed) the model
gets its real memory (the row before t and the action that led to t) and predicts row t+1
from the action taken. Reported per region: median and 90th percentile of the position error
(px), the share above 0.5 px, and among the steps the wall blocked (moved < 0.05 px) the share
the model moves by more than 0.5 px.

For models whose latent is the standardized observation (``obs-mlp``): positions are read
back exactly, without a probe.

Run: python benchmarks/bench_contact_one_step.py RUN --data HELDOUT.h5 [--out JSON]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _results import machine, run_main, write_result

from forethought.core.errors import ForethoughtError
from forethought.data.reader import Dataset
from forethought.envs.two_room import DOOR_HALF, WALL_HALF
from forethought.training.load import load_run

ON_FACE_PX = 0.01  # a step the wall stopped ends 1e-3 px in front of the face


def transitions(path: Path) -> dict[str, np.ndarray]:
    """Rows t-1, t, t+1 of every step with two predecessors in its episode."""
    with Dataset(path) as ds:
        s = ds.load("obs/state").astype(np.float32)  # (N, 4): x, y, wall x, door y
        a = ds.load("action").astype(np.float32)  # (N, 2): the action that led to each row
        first = ds.load("is_first").astype(bool)
    t = np.arange(1, len(s) - 1)
    t = t[~first[t] & ~first[t + 1]]
    return {"prev": s[t - 1], "cur": s[t], "next": s[t + 1], "a_prev": a[t], "a": a[t + 1]}


def regions(cur: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks over transitions by where they start."""
    x, y, wall_x, door_y = cur.T
    from_edge = np.abs(y - door_y) - (DOOR_HALF + 0.5)  # < 0: inside the opening's rows
    on_face = np.abs(np.abs(x - wall_x) - (WALL_HALF + 0.5)) < ON_FACE_PX
    in_opening = np.abs(x - wall_x) < WALL_HALF + 0.5
    inner = (np.abs(x - wall_x) > 4) & (np.minimum(x, y) > 5) & (np.maximum(x, y) < 59)
    return {
        "free": inner,
        "wall face, > 3 px from the door": on_face & (from_edge > 3),
        "wall face, < 2 px beside a door edge": on_face & (from_edge >= 0) & (from_edge < 2),
        "in the opening, < 1.5 px from an edge": in_opening & (from_edge > -1.5) & (from_edge < 0),
    }


@torch.no_grad()
def predict(model: Any, tr: dict[str, np.ndarray]) -> np.ndarray:
    """Predicted next positions (N, 2) with the real one-step memory."""
    encoder = getattr(model, "encoder", None)
    if not hasattr(encoder, "mean") or not hasattr(encoder, "std"):
        raise ForethoughtError(
            "this benchmark reads positions straight from the latent: it needs a model whose "
            "latent is the standardized observation (obs-mlp)"
        )
    n = len(tr["cur"])
    a_prev = torch.from_numpy(tr["a_prev"])  # (N, A)
    belief = model.initial(n)
    for key, action, first in (("prev", torch.zeros_like(a_prev), True), ("cur", a_prev, False)):
        obs = {"state": torch.from_numpy(tr[key])}
        belief = model.observe(belief, obs, action, torch.full((n,), first))
    z_next = model.imagine(belief, torch.from_numpy(tr["a"])[:, None]).latents[:, 0]  # (N, D)
    return (z_next * encoder.std + encoder.mean)[:, :2].numpy()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="run directory of an obs-mlp model trained on TwoRoom state")
    p.add_argument("--data", type=Path, required=True, help="held-out TwoRoom dataset (.h5)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/contact_one_step.json"))
    args = p.parse_args()
    torch.set_num_threads(1)
    tr = transitions(args.data)
    pred = predict(load_run(args.run).model.eval(), tr)
    err = np.linalg.norm(pred - tr["next"][:, :2], axis=1)  # (N,)
    moved = np.linalg.norm(tr["next"][:, :2] - tr["cur"][:, :2], axis=1)
    pred_moved = np.linalg.norm(pred - tr["cur"][:, :2], axis=1)
    rows = {}
    for name, mask in regions(tr["cur"]).items():
        blocked = mask & (moved < 0.05)
        rows[name] = {
            "n": int(mask.sum()),
            "error_median_px": round(float(np.median(err[mask])), 4),
            "error_p90_px": round(float(np.quantile(err[mask], 0.9)), 4),
            "share_over_0.5px": round(float(np.mean(err[mask] > 0.5)), 4),
            "blocked": int(blocked.sum()),
            "blocked_but_moves_over_0.5px": round(float(np.mean(pred_moved[blocked] > 0.5)), 4),
        }
        r = rows[name]
        print(
            f"{name:<40} n {r['n']:6d}  median {r['error_median_px']:.3f} px  "
            f"p90 {r['error_p90_px']:.3f}  > 0.5 px {100 * r['share_over_0.5px']:4.1f}%  "
            f"blocked but moved > 0.5 px {100 * r['blocked_but_moves_over_0.5px']:4.1f}% "
            f"of {r['blocked']}"
        )
    write_result(
        args.out,
        {
            "command": "python benchmarks/bench_contact_one_step.py " + " ".join(sys.argv[1:]),
            "run": args.run,
            "data": str(args.data),
            "machine": machine(),
            "regions": rows,
        },
    )
    return 0


if __name__ == "__main__":
    run_main(main, "bench_contact_one_step")
