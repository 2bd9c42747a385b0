"""What a run's latent knows of the true state: a linear probe per state dimension, held out.

The model encodes the observations of some of its training file's episodes (every ``--stride``-th
of the run's training episodes, ``--fit-episodes`` of them) and of every episode of a held-out
file; a least-squares linear map latent -> state (with a bias) is fitted on the first and scored
on the second (``fit_linear_probe``), as the mean and 95th-percentile absolute error per state
dimension. A linear
probe asks for more than an MLP probe: for ``keypoint-mlp``, whether a keypoint sits on the
thing (TwoRoom's state is the agent's x, y, the wall's x and the door's y, in px).

Run: python benchmarks/bench_state_probe.py RUN --data HELDOUT.h5 [--state-key state] [--out J]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from _results import machine, run_main, write_result

from forethought.data.reader import Dataset
from forethought.eval import encode_rows
from forethought.models import fit_linear_probe
from forethought.training import load_run


def episode_rows(ds: Dataset, episodes: np.ndarray, key: str) -> np.ndarray:
    """Every row of ``episodes`` of one key, in order. (N, ...)."""
    starts, lengths = ds.episode_starts, ds.episode_lengths
    full = ds.load(key)
    return np.concatenate([full[int(starts[e]) : int(starts[e] + lengths[e])] for e in episodes])


def latents_and_states(model, ds: Dataset, episodes: np.ndarray, state_key: str):
    """(N, D) latents and (N, S) true states of every row of ``episodes``."""
    obs = {k: torch.from_numpy(episode_rows(ds, episodes, f"obs/{k}")) for k in model.encoder.keys}
    states = torch.from_numpy(episode_rows(ds, episodes, f"obs/{state_key}")).double()
    return encode_rows(model, obs), states


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path)
    p.add_argument("--data", type=Path, required=True, help="held-out dataset with the state key")
    p.add_argument("--state-key", default="state")
    p.add_argument("--fit-episodes", type=int, default=100)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/state_probe.json"))
    args = p.parse_args()
    torch.set_num_threads(1)
    run = load_run(args.run)
    model = run.model.eval()
    train = Dataset(Path(run.dataset["path"]))
    held = Dataset(args.data)
    val = set(np.asarray(run.dataset["val_episodes"], dtype=np.int64).tolist())
    train_eps = np.array([e for e in range(train.n_episodes) if e not in val], dtype=np.int64)
    fit_eps = train_eps[:: max(1, len(train_eps) // args.fit_episodes)][: args.fit_episodes]
    z_fit, s_fit = latents_and_states(model, train, fit_eps, args.state_key)
    z_held, s_held = latents_and_states(model, held, np.arange(held.n_episodes), args.state_key)
    probe = fit_linear_probe(z_fit, s_fit)
    with torch.no_grad():
        err = (probe(z_held) - s_held.float()).abs().numpy()  # (N, S)
    dims = [
        {
            "dim": i,
            "mae": round(float(err[:, i].mean()), 4),
            "p95": round(float(np.percentile(err[:, i], 95)), 4),
        }
        for i in range(err.shape[1])
    ]
    print(f"{args.run}: " + ", ".join(f"dim {d['dim']} {d['mae']:.3f}" for d in dims))
    write_result(
        args.out,
        {
            "command": "python benchmarks/bench_state_probe.py " + " ".join(sys.argv[1:]),
            "run": str(args.run),
            "data": str(args.data),
            "fit": {"episodes": len(fit_eps), "rows": len(s_fit)},
            "held_out_rows": len(s_held),
            "machine": machine(),
            "dims": dims,
        },
    )
    return 0


if __name__ == "__main__":
    run_main(main, "bench_state_probe")
