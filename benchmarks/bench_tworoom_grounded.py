"""Grounded k-step error of a trained TwoRoom model on held-out episodes, in pixels.

A probe (MLP on frozen latents) is fitted to the agent's (x, y) on rows of the run's training
episodes; the model then observes the first ``--context`` rows of windows from the run's held-out
episodes and imagines the next ``--horizon`` rows from the actions alone. The probe's reading of
each imagined latent is compared with the true position (error in px), against copying the last
observed position. Also reported: the effective rank of held-out latents (collapse check).

Run: python benchmarks/bench_tworoom_grounded.py RUN [--data HELDOUT.h5] [--out RESULT.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _results import write_result

from forethought.data.reader import Dataset
from forethought.data.sampler import WindowSampler
from forethought.eval import effective_rank, encode_rows, open_loop_errors
from forethought.eval.offline import fit_run_probe
from forethought.training import load_run


def evaluate_run(
    run_dir: Path,
    data: Path | None = None,
    horizon: int = 16,
    context: int = 1,
    windows: int = 1024,
    probe_rows: int = 16384,
    probe_steps: int = 2000,
) -> dict:
    """The grounded errors of the model in ``run_dir`` on held-out episodes (see module doc):
    the run's own held-out episodes, or every episode of ``data`` when it is another dataset."""
    start = time.time()
    run = load_run(run_dir)
    model = run.model
    keys = tuple(model.encoder.keys)
    load = tuple(sorted(set(keys) | {"state"}))
    probe = fit_run_probe(run, rows=probe_rows, steps=probe_steps)  # on the training episodes
    with Dataset(data or Path(run.dataset["path"])) as ds:
        own = ds.fingerprint() == run.dataset["fingerprint"]
        val = (
            np.asarray(run.dataset["val_episodes"], dtype=np.int64)
            if own
            else np.arange(ds.n_episodes)
        )
        held = WindowSampler(
            ds, context + horizon, windows, obs_keys=load, episodes=val, seed=2
        ).sample()
    result = open_loop_errors(model, held, probe, context)
    z_held = encode_rows(model, {k: held.obs[k].flatten(0, 1) for k in keys})
    b, c = held.action.shape[0], context
    return {
        "run": str(run_dir),
        "model": f"{run.info.model_name} ({run.info.preset})",
        "model_config": run.info.model_config,
        "trained_steps": run.info.step,
        "trained_s": round(run.info.elapsed_s, 1),
        "dataset_fingerprint": run.info.dataset_fingerprint,
        "held_out": str(data) if data else "the run's held-out episodes",
        "held_out_episodes": int(val.size),
        "windows": b,
        "context": c,
        "probe_error_of_observed_frames_px": round(float(result.encoder_error.mean.mean()), 3),
        "kstep_error_px": [round(float(v), 3) for v in result.error.mean],
        "kstep_error_sem_px": [round(float(v), 3) for v in result.error.sem],
        "copy_last_px": [round(float(v), 3) for v in result.copy_last.mean],
        "normalized_latent_error": [round(float(v), 4) for v in result.latent.mean],
        "effective_rank": round(effective_rank(z_held), 2),
        "latent_dim": int(z_held.shape[1]),
        "eval_s": round(time.time() - start, 1),
    }


def summary(r: dict) -> str:
    return (
        f"{r['model']}, {r['trained_steps']} steps: {len(r['kstep_error_px'])}-step error "
        f"{r['kstep_error_px'][-1]:.2f} px (copy-last {r['copy_last_px'][-1]:.2f} px), "
        f"observed-frame probe error {r['probe_error_of_observed_frames_px']:.2f} px, "
        f"effective rank {r['effective_rank']:.1f} of {r['latent_dim']}"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path)
    p.add_argument(
        "--data", type=Path, default=None, help="held-out dataset (default: the run's own split)"
    )
    p.add_argument("--horizon", type=int, default=16)
    p.add_argument("--context", type=int, default=1)
    p.add_argument("--windows", type=int, default=1024, help="held-out windows evaluated")
    p.add_argument("--probe-rows", type=int, default=16384)
    p.add_argument("--probe-steps", type=int, default=2000)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/tworoom_grounded.json"))
    args = p.parse_args()
    torch.set_num_threads(1)
    result = {"command": "python benchmarks/bench_tworoom_grounded.py " + " ".join(sys.argv[1:])}
    result.update(
        evaluate_run(
            args.run,
            args.data,
            args.horizon,
            args.context,
            args.windows,
            args.probe_rows,
            args.probe_steps,
        )
    )
    print(summary(result))
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
