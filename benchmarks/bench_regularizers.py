"""Ablation: the anti-collapse term (SIGReg vs VICReg + inverse dynamics) and the image encoder.

Each variant of the JEPA world model trains on TwoRoom pixels for the same number of optimizer
steps (not seconds: a fair comparison even on a shared machine; each variant's time is recorded)
with the real trainer (``forethought.training.train``), then is scored by the grounded evaluation
of ``bench_tworoom_grounded.py`` on the run's held-out episodes: probe error on observed frames,
k-step open-loop error against copy-last, effective rank, and the share of latent variance that
changes within an episode (near 0: the latent encodes the walls and ignores the agent).

The variants pin the objective of the time (stop-gradient targets, no smoothness term with
SIGReg); ``bench_jepa_objective.py`` compares objectives.

Run: python benchmarks/bench_regularizers.py --data DATA.h5 [--steps 1500] [--preset tiny]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from _results import write_result
from bench_tworoom_grounded import evaluate_run, summary

from forethought.data.reader import Dataset
from forethought.data.sampler import WindowSampler
from forethought.models import DataSpec, build_model
from forethought.training import TrainConfig, load_run, train

_OBJECTIVE = {"stop_grad_target": True, "sigreg_time_weight": 0.0}  # as when this was measured
VARIANTS = {
    "sigreg + keypoints": {**_OBJECTIVE},
    "vicreg + idm + keypoints": {**_OBJECTIVE, "regularizer": "vicreg"},
    "sigreg + conv": {**_OBJECTIVE, "image_encoder": "conv", "cnn_channels": [8, 16, 32, 32]},
}


@torch.no_grad()
def within_episode_share(run_dir: Path) -> float:
    """Mean over latent dims of (variance within 16-row windows) / (total variance)."""
    run = load_run(run_dir)
    with Dataset(run.dataset["path"]) as ds:
        batch = WindowSampler(
            ds, 16, 256, obs_keys=("pixels",), episodes=run.dataset["val_episodes"], seed=3
        ).sample()
    z = run.model.encode_sequence(batch.obs)  # (B, T, D)
    return float(z.var(1).mean() / z.flatten(0, 1).var(0).mean())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="TwoRoom dataset with pixels+state")
    p.add_argument("--steps", type=int, default=1500, help="optimizer steps per variant")
    p.add_argument("--preset", default="tiny")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/regularizers.json"))
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, overrides in VARIANTS.items():
            run_dir = Path(tmp) / name.replace(" ", "").replace("+", "_")

            def factory(ds, overrides=overrides):
                spec = DataSpec.from_dataset(ds)
                return build_model("jepa", args.preset, spec, obs_keys=("pixels",), **overrides)

            cfg = TrainConfig(steps=args.steps, val_every=10**9, ckpt_every=None)
            train(args.data, run_dir, cfg, factory, model_name="jepa", preset=args.preset)
            row = {"variant": name, "overrides": overrides}
            row.update(evaluate_run(run_dir))
            row["within_episode_variance_share"] = round(within_episode_share(run_dir), 3)
            print(
                f"{name}: {summary(row)}, within-episode share "
                f"{row['within_episode_variance_share']:.3f}",
                flush=True,
            )
            rows.append(row)
    result = {
        "command": "python benchmarks/bench_regularizers.py " + " ".join(sys.argv[1:]),
        "steps": args.steps,
        "preset": args.preset,
        "rows": rows,
    }
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
