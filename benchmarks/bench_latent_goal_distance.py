"""Is the latent distance to a goal a usable planning cost? TwoRoom, held-out episodes.

For B held-out windows of T rows, the goal is the window's last frame. Along each window we
compare three distances to the goal: the true one (px), the latent one of the real frames
(``|enc(obs_t) - enc(goal)|``) and the latent one of the model's open-loop imagination from the
first frame with the true actions. A usable cost rises steadily with the true distance, and its
imagined version ends near 0 when the actions do reach the goal.

Run: python benchmarks/bench_latent_goal_distance.py RUN [--window 61] [--out RESULT.json]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from _results import machine, write_result

from forethought.data.reader import Dataset
from forethought.data.sampler import WindowSampler
from forethought.training import load_run


def corr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1])


def measure(run_dir: Path, window: int, windows: int, seed: int) -> dict:
    run = load_run(run_dir)
    model = run.model.eval()
    keys = tuple(model.encoder.keys)
    val = np.asarray(run.dataset["val_episodes"], dtype=np.int64)
    with Dataset(Path(run.dataset["path"])) as ds:
        w = WindowSampler(
            ds, window, windows, obs_keys=(*keys, "state"), episodes=val, seed=seed
        ).sample()
    obs = {k: w.obs[k] for k in keys}
    first = torch.ones(windows, dtype=torch.bool)
    with torch.no_grad():
        real = model.encode_sequence(obs)  # (B, T, D)
        belief = model.observe(
            model.initial(windows), {k: v[:, 0] for k, v in obs.items()}, w.action[:, 0], first
        )
        imagined = model.imagine(belief, w.action[:, 1:]).latents  # (B, T-1, D)
    goal = real[:, -1:]  # (B, 1, D)
    pos = w.obs["state"][..., :2].float()  # (B, T, 2)
    true_d = (pos - pos[:, -1:]).norm(dim=-1)[:, 1:]  # (B, T-1) px
    real_d = (real[:, 1:] - goal).norm(dim=-1)
    imag_d = (imagined - goal).norm(dim=-1)
    steps = sorted({1, 15, 30, 45, window - 2} & set(range(window - 1)))
    return {
        "run": str(run_dir),
        "windows": windows,
        "window": window,
        "corr_real_latent_vs_true": round(corr(real_d, true_d), 3),
        "corr_imagined_latent_vs_true": round(corr(imag_d, true_d), 3),
        "by_step": [
            {
                "t": t + 1,
                "true_px": round(float(true_d[:, t].mean()), 2),
                "real_latent": round(float(real_d[:, t].mean()), 3),
                "imagined_latent": round(float(imag_d[:, t].mean()), 3),
                "imagined_vs_real_latent": round(
                    float((imagined[:, t] - real[:, t + 1]).norm(dim=-1).mean()), 3
                ),
            }
            for t in steps
        ],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path)
    p.add_argument("--window", type=int, default=61, help="rows per window (goal = last)")
    p.add_argument("--windows", type=int, default=256)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/latent_goal_distance.json"))
    args = p.parse_args()
    torch.set_num_threads(2)
    result = {
        "command": "python benchmarks/bench_latent_goal_distance.py " + " ".join(sys.argv[1:])
    }
    result.update(measure(args.run, args.window, args.windows, args.seed))
    result["machine"] = machine()
    for row in result["by_step"]:
        print(row)
    print(
        f"corr(latent, true distance): real {result['corr_real_latent_vs_true']}, "
        f"imagined {result['corr_imagined_latent_vs_true']}"
    )
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
