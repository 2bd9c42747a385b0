"""How much of a model's latent change from one frame to the next can be predicted at all?

Encodes the first ``--episodes`` episodes of a dataset with a trained run's encoder, then fits a
wide MLP from (z_t, a_{t+1}) to z_{t+1} - z_t on 80% of those episodes and scores it on the other
20%. Its best held-out error (per latent dimension, and as a share of the mean squared step) is
an estimate of what a one-step predictor of this latent can reach: when the model's own
predictor is no worse, the rest of what changes in the latent between frames is not a function
of the latent and the action (an encoder that fills dimensions with detail the dynamics do not
carry), and more predictor training will not remove it.

    python benchmarks/bench_latent_predictability.py RUN --data DATA [--out JSON]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path)
    p.add_argument("--data", type=Path, required=True, help="dataset with the run's obs keys")
    p.add_argument("--episodes", type=int, default=200, help="episodes to encode (default 200)")
    p.add_argument("--fit-s", type=float, default=120.0, help="MLP fit seconds (default 120)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    from forethought.data.reader import Dataset
    from forethought.training.latent_phase import cache_latents
    from forethought.training.load import load_run

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = load_run(args.run).model.eval()
    with Dataset(args.data) as ds:
        episode = ds.load("episode")  # (N,) episode index of each row
        n = int(np.searchsorted(episode, args.episodes))
        z = cache_latents(model, ds, model.encoder.keys, torch.device("cpu"))[:n]  # (n, D)
        first = torch.as_tensor(ds.read("is_first", 0, n)).bool()  # (n,)
        action = torch.as_tensor(ds.read("action", 0, n))
    with torch.no_grad():
        a = model.encode_action(action, lead=1)  # (n, A_in)
    cont = ~first[1:]  # row t+1 continues row t's episode
    x = torch.cat([z[:-1], a[1:]], dim=-1)[cont]  # (R, D + A_in)
    y = (z[1:] - z[:-1])[cont]  # (R, D)
    ep = torch.as_tensor(episode[1:n])[cont]
    held = ep >= int(0.8 * args.episodes)
    xt, yt, xv, yv = x[~held], y[~held], x[held], y[held]

    net = nn.Sequential(
        nn.Linear(x.shape[1], 512), nn.SiLU(), nn.Linear(512, 512), nn.SiLU(),
        nn.Linear(512, y.shape[1]),
    )  # fmt: skip
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    start, step, best, curve = time.time(), 0, float("inf"), []
    while time.time() - start < args.fit_s:
        idx = torch.randint(0, xt.shape[0], (512,))
        loss = (net(xt[idx]) - yt[idx]).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 1000 == 0:
            with torch.no_grad():
                val = (net(xv) - yv).square().mean().item()
            best = min(best, val)
            curve.append({"step": step, "train": round(loss.item(), 5), "held_out": round(val, 5)})
    step_sq = yv.square().mean().item()
    result = {
        "command": "python " + " ".join(sys.argv),
        "run": str(args.run),
        "data": str(args.data),
        "rows_fit": int(xt.shape[0]),
        "rows_held_out": int(xv.shape[0]),
        "latent_dim": int(z.shape[1]),
        "latent_variance": round(z.var(0).mean().item(), 5),
        "mean_squared_step": round(step_sq, 5),
        "best_held_out_error": round(best, 5),
        "unpredictable_share": round(best / step_sq, 4),
        "fit_steps": step,
        "curve": curve,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "curve"}, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
