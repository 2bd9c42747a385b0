"""How sharply does a goal distance say "arrived"? Latent L2 against the temporal head, in px.

Near the goal a planner needs a distance that tells 2 px from 6 px (TwoRoom's success radius
is 4.5 px). For a run and a held-out dataset with true states, random pairs of rows of the same
episode (same layout) are scored in two spaces: the L2 distance between the run's latents
(``--stop-latent``) and the distance of its temporal-distance head (``--goal-space
temporal``). Reported per band of true distance (median and 90th percentile of each space's
distance) and, for thresholds, which share of the pairs under the threshold are truly within
4.5 px (precision), which share of the truly-within pairs fall under it (recall), and the 90th
percentile of their true distance. The same numbers on pairs at least 1 px apart drop the many
pairs where the agent stood still.

This calibrates a stop threshold against true positions; the planner itself reads none.

Run: python benchmarks/bench_goal_resolution.py RUN --data HELDOUT.h5 [--pairs 400] [--out J]
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
from forethought.eval.goals import TWO_ROOM, load_goal_model
from forethought.training.latent_phase import cache_latents

RADIUS = 4.5  # px: TwoRoom's success radius
BANDS = [(0, 1), (1, 2), (2, 3), (3, 4.5), (4.5, 6), (6, 8), (8, 12), (12, 20)]
THRESHOLDS = {
    "latent_l2": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8],
    "temporal": [2.0, 4.0, 6.0, 8.0, 10.0, 12.0],
}


def same_episode_pairs(episode: np.ndarray, per_episode: int, seed: int) -> np.ndarray:
    """(P, 2) row indices, ``per_episode`` random pairs drawn within each episode."""
    rng = np.random.default_rng(seed)
    pairs = []
    for e in np.unique(episode):
        rows = np.flatnonzero(episode == e)
        pairs.append(np.stack([rng.choice(rows, per_episode), rng.choice(rows, per_episode)], 1))
    return np.concatenate(pairs)


def threshold_table(dist: np.ndarray, true: np.ndarray, thresholds: list[float]) -> list[dict]:
    """Precision, recall and true-distance p90 of ``dist <= t`` as a test of true < RADIUS."""
    inside = true < RADIUS
    rows = []
    for t in thresholds:
        under = dist <= t
        rows.append(
            {
                "threshold": t,
                "pairs_under": int(under.sum()),
                "precision": round(float(inside[under].mean()), 4) if under.any() else None,
                "recall": round(float(under[inside].mean()), 4) if inside.any() else None,
                "true_px_p90": round(float(np.quantile(true[under], 0.9)), 3)
                if under.any()
                else None,
            }
        )
    return rows


def space_report(dist: np.ndarray, true: np.ndarray, thresholds: list[float]) -> dict[str, Any]:
    bands = []
    for lo, hi in BANDS:
        m = (true >= lo) & (true < hi)
        if m.any():
            bands.append(
                {
                    "true_px": [lo, hi],
                    "pairs": int(m.sum()),
                    "median": round(float(np.median(dist[m])), 3),
                    "p90": round(float(np.quantile(dist[m], 0.9)), 3),
                }
            )
    moved = true >= 1.0
    return {
        "bands": bands,
        "thresholds_all_pairs": threshold_table(dist, true, thresholds),
        "thresholds_pairs_1px_apart": threshold_table(dist[moved], true[moved], thresholds),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path)
    p.add_argument("--data", type=Path, required=True, help="held-out TwoRoom data (--obs both)")
    p.add_argument("--pairs", type=int, default=400, help="pairs per episode (default 400)")
    p.add_argument("--temporal-steps", type=int, default=8000, help="the head's fit steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/goal_resolution.json"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if not args.data.exists():
        raise ForethoughtError(f"no dataset at {args.data}; collect one with `forethought collect`")
    model, phi = load_goal_model(
        str(args.run), TWO_ROOM, "temporal", temporal_steps=args.temporal_steps
    )
    with Dataset(args.data) as ds, torch.no_grad():
        if "state" not in ds.meta.obs_keys:
            raise ForethoughtError(f"{args.data} has no 'state'; collect with --obs both")
        z = cache_latents(model, ds, tuple(model.encoder.keys), torch.device("cpu"))  # (N, D)
        head = phi(z).numpy()  # (N, 32)
        z = z.numpy()
        xy = ds.load("obs/state").reshape(ds.n_steps, -1)[:, :2]  # (N, 2) agent x, y in px
        episode = ds.load("episode").astype(np.int64)
    pairs = same_episode_pairs(episode, args.pairs, args.seed)  # (P, 2)
    a, b = pairs[:, 0], pairs[:, 1]
    true = np.linalg.norm(xy[a] - xy[b], axis=1)
    spaces = {
        "latent_l2": np.linalg.norm(z[a] - z[b], axis=1),
        "temporal": np.linalg.norm(head[a] - head[b], axis=1),
    }
    report = {name: space_report(d, true, THRESHOLDS[name]) for name, d in spaces.items()}
    for name, r in report.items():
        print(f"{name}: " + ", ".join(f"{b['true_px']} px {b['median']:.2f}" for b in r["bands"]))
        for t in r["thresholds_pairs_1px_apart"]:
            print(f"  <= {t['threshold']:g}: precision {t['precision']}, recall {t['recall']}, "
                  f"true p90 {t['true_px_p90']} px (pairs >= 1 px apart)")  # fmt: skip
    write_result(
        args.out,
        {
            "command": "python benchmarks/bench_goal_resolution.py " + " ".join(sys.argv[1:]),
            "run": str(args.run),
            "data": str(args.data),
            "pairs": len(pairs),
            "success_radius_px": RADIUS,
            "machine": machine(),
            "spaces": report,
        },
    )
    return 0


if __name__ == "__main__":
    run_main(main, "bench_goal_resolution")
