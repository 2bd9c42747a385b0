"""Ablation: the JEPA objective on TwoRoom pixels (target gradients, smoothness, IDM, weights).

Same protocol as ``bench_regularizers.py``: each variant trains the ``tiny`` preset for the same
number of optimizer steps on one thread, and is scored by the grounded evaluation of
``bench_tworoom_grounded.py`` on the run's held-out episodes. Every variant spells out the
objective fields it sets, so the rows stay meaningful when the defaults change.

Run: python benchmarks/bench_jepa_objective.py --data DATA.h5 [--steps 1500] [--only NAME,...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from _results import write_result
from bench_regularizers import within_episode_share
from bench_tworoom_grounded import evaluate_run, summary

from forethought.models import DataSpec, build_model
from forethought.training import TrainConfig, train

_BASE = {"regularizer": "sigreg", "sigreg_weight": 0.1, "idm_weight": 0.0}
VARIANTS = {
    "stop-grad targets": {**_BASE, "stop_grad_target": True, "sigreg_time_weight": 0.0},
    "joint targets": {**_BASE, "stop_grad_target": False, "sigreg_time_weight": 0.0},
    "joint + smoothness 1.0 (default)": {
        **_BASE, "stop_grad_target": False, "sigreg_time_weight": 1.0
    },
    "joint + smoothness + IDM": {
        **_BASE, "stop_grad_target": False, "sigreg_time_weight": 1.0, "idm_weight": 1.0
    },
    "joint + smoothness, SIGReg 0.02": {
        **_BASE, "stop_grad_target": False, "sigreg_time_weight": 1.0, "sigreg_weight": 0.02
    },
    "joint, VICReg + IDM + smoothness": {"regularizer": "vicreg", "stop_grad_target": False},
}  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="TwoRoom dataset with pixels+state")
    p.add_argument("--steps", type=int, default=1500, help="optimizer steps per variant")
    p.add_argument("--preset", default="tiny")
    p.add_argument("--only", default="", help="comma-separated variant names (default: all)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/jepa_objective.json"))
    args = p.parse_args()
    torch.set_num_threads(1)
    names = [n for n in VARIANTS if not args.only or n in args.only.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, name in enumerate(names):
            overrides = VARIANTS[name]
            run_dir = Path(tmp) / f"v{i}"

            def factory(ds, overrides=overrides):
                spec = DataSpec.from_dataset(ds)
                return build_model("jepa", args.preset, spec, obs_keys=("pixels",), **overrides)

            cfg = TrainConfig(steps=args.steps, val_every=10**9, ckpt_every=None)
            train(
                args.data, run_dir, cfg, factory, model_name="jepa", preset=args.preset, threads=1
            )
            row = {"variant": name, "overrides": overrides, **evaluate_run(run_dir)}
            row["within_episode_variance_share"] = round(within_episode_share(run_dir), 3)
            print(f"{name}: {summary(row)}", flush=True)
            rows.append(row)
    result = {
        "command": "python benchmarks/bench_jepa_objective.py " + " ".join(sys.argv[1:]),
        "steps": args.steps,
        "preset": args.preset,
        "threads": 1,
        "rows": rows,
    }
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
