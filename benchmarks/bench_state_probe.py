"""What a run's latent knows of the true state: a linear probe per state dimension, held out.

The model encodes the observations of some of its training file's episodes (every ``--stride``-th
of the run's training episodes, ``--fit-episodes`` of them) and of every episode of a held-out
file; a least-squares linear map latent -> state (with a bias) is fitted on the first and scored
on the second, as the mean and 95th-percentile absolute error per state dimension. A linear
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
from forethought.training import load_run


def encode(model, ds: Dataset, episodes: np.ndarray, keys: tuple[str, ...]) -> np.ndarray:
    """Latents of every row of ``episodes``. (N, D)."""
    starts, lengths = ds.episode_starts, ds.episode_lengths
    full = {k: ds.load(f"obs/{k}") for k in keys}
    out = []
    with torch.no_grad():
        for e in episodes:
            rows = slice(int(starts[e]), int(starts[e] + lengths[e]))
            obs = {k: torch.from_numpy(np.asarray(v[rows])) for k, v in full.items()}
            out.append(model.encode_goal(obs).numpy())
    return np.concatenate(out)


def states(ds: Dataset, episodes: np.ndarray, key: str) -> np.ndarray:
    starts, lengths = ds.episode_starts, ds.episode_lengths
    full = ds.load(f"obs/{key}")
    return np.concatenate([full[int(starts[e]) : int(starts[e] + lengths[e])] for e in episodes])


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
    keys = tuple(model.encoder.keys)
    train = Dataset(Path(run.dataset["path"]))
    held = Dataset(args.data)
    val = set(np.asarray(run.dataset["val_episodes"], dtype=np.int64).tolist())
    train_eps = np.array([e for e in range(train.n_episodes) if e not in val], dtype=np.int64)
    fit_eps = train_eps[:: max(1, len(train_eps) // args.fit_episodes)][: args.fit_episodes]
    held_eps = np.arange(held.n_episodes)
    z_fit, z_held = encode(model, train, fit_eps, keys), encode(model, held, held_eps, keys)
    s_fit = states(train, fit_eps, args.state_key)
    s_held = states(held, held_eps, args.state_key)
    ones = lambda z: np.concatenate([z, np.ones((len(z), 1))], 1)  # noqa: E731
    w, *_ = np.linalg.lstsq(ones(z_fit), s_fit, rcond=None)
    err = np.abs(ones(z_held) @ w - s_held)  # (N, S)
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
