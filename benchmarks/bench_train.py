"""Training throughput of every preset on this machine, with 1 and 2 torch threads.

For each model (``--models``, default jepa; ``keypoint-mlp`` reads pixels only), preset (tiny,
small, base), input (TwoRoom state vectors, TwoRoom 65x65 pixels) and thread count it times full
optimizer steps (sample a batch of windows, loss, backward, AdamW step) after a short warm-up, and
reports optimizer steps/s and frames/s (frames = batch x window rows encoded per step). The data
is collected on the fly from ``forethought/TwoRoom-v0`` (both keys).

The steps run with the allocator setting the trainer uses end to end
(``forethought.core.allocator``); run with ``FORETHOUGHT_KEEP_FREED_MEMORY=0`` to time without it.
The result records which.

Run: python benchmarks/bench_train.py [--seconds 15] [--out benchmarks/results/train.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from _results import machine, write_result

from forethought.collect import CollectConfig, collect
from forethought.core.allocator import keep_freed_memory
from forethought.data.reader import Dataset
from forethought.data.sampler import WindowSampler
from forethought.models import DataSpec, build_model

BATCH, WINDOW = 32, 16


def time_steps(model: torch.nn.Module, sampler: WindowSampler, seconds: float) -> dict:
    """Optimizer steps/s of ``model`` on batches from ``sampler`` for about ``seconds``."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()

    def step() -> None:
        loss, _ = model.loss(sampler.sample())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):  # warm-up: allocator, first-call overheads
        step()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or n < 3:
        step()
        n += 1
    elapsed = time.perf_counter() - start
    return {
        "steps": n,
        "seconds": round(elapsed, 2),
        "steps_per_s": round(n / elapsed, 3),
        "frames_per_s": round(n * BATCH * WINDOW / elapsed, 1),
    }


def time_model(name: str, obs_key: str, ds: Dataset, spec: DataSpec, args) -> list[dict]:
    """One row per preset and thread count for model ``name`` on ``obs_key``."""
    rows = []
    sampler = WindowSampler(ds, WINDOW, BATCH, obs_keys=(obs_key,), seed=0)
    for preset in args.presets.split(","):
        for threads in (int(t) for t in args.threads.split(",")):
            torch.set_num_threads(threads)
            torch.manual_seed(0)
            model = build_model(name, preset, spec, obs_keys=(obs_key,))
            row = {"model": name, "obs": obs_key, "preset": preset, "threads": threads}
            row.update(time_steps(model, sampler, args.seconds))
            row["parameters"] = sum(p.numel() for p in model.parameters())
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=15.0, help="timed seconds per setting")
    p.add_argument("--models", default="jepa", help="comma-separated model names")
    p.add_argument("--presets", default="tiny,small,base")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/train.json"))
    args = p.parse_args()
    kept = keep_freed_memory()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "tworoom.h5"
        collect(
            CollectConfig(
                env_id="forethought/TwoRoom-v0",
                episodes=40,
                max_steps=100,
                obs="both",
                out=data,
                seed=0,
                workers=1,
            )
        )
        with Dataset(data) as ds:
            spec = DataSpec.from_dataset(ds)
            for name in args.models.split(","):
                for obs_key in ("pixels",) if name == "keypoint-mlp" else ("state", "pixels"):
                    rows += time_model(name, obs_key, ds, spec, args)
    best = {}
    for r in rows:
        key = f"{r['model']}/{r['obs']}/{r['preset']}"
        if key not in best or r["steps_per_s"] > best[key]["steps_per_s"]:
            best[key] = r
    result = {
        "command": "python benchmarks/bench_train.py " + " ".join(sys.argv[1:]),
        "batch_size": BATCH,
        "window": WINDOW,
        "machine": machine(),
        "keep_freed_memory": kept,
        "rows": rows,
        "winning_threads": {k: v["threads"] for k, v in best.items()},
    }
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
