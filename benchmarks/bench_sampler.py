"""WindowSampler throughput: windows/s for vector and image data (T=16, batch 256).

Targets (issue: foundation): >= 20,000 windows/s for vector data, >= 2,000 windows/s for 64x64
images read in chunks (the image dataset is forced into the chunked, not-in-memory mode).

Run: python benchmarks/bench_sampler.py [--seconds 5] [--out benchmarks/results/sampler.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from forethought.core.spaces import action_field, obs_fields, space_to_json
from forethought.data.episode import Episode
from forethought.data.meta import DatasetMeta
from forethought.data.reader import Dataset
from forethought.data.sampler import WindowSampler
from forethought.data.writer import DatasetWriter


def write_dataset(path: Path, obs_space: gym.Space, episodes: int, steps: int, seed: int) -> None:
    act = gym.spaces.Box(-1, 1, (6,), np.float32)
    meta = DatasetMeta(
        "bench/Synthetic-v0",
        tuple(obs_fields(obs_space)),
        action_field(act),
        space_to_json(obs_space),
        space_to_json(act),
    )
    rng = np.random.default_rng(seed)
    key = obs_fields(obs_space)[0]
    with DatasetWriter.create(
        path, meta, overwrite=True, initial_steps=episodes * (steps + 1)
    ) as w:
        for _ in range(episodes):
            if key.is_image:  # smooth blobs plus noise: neither trivially compressible nor noise
                base = rng.integers(0, 255, (steps + 1, 8, 8, key.shape[-1]), dtype=np.uint8)
                obs = np.repeat(np.repeat(base, 8, axis=1), 8, axis=2)
                obs = obs + rng.integers(0, 16, obs.shape, dtype=np.uint8)
            else:
                obs = rng.standard_normal((steps + 1, *key.shape)).astype(np.float32)
            action = rng.uniform(-1, 1, (steps + 1, 6)).astype(np.float32)
            reward = rng.standard_normal(steps + 1).astype(np.float32)
            w.append(Episode({key.key: obs}, action, reward, False, True))


def measure(path: Path, in_memory: bool | None, seconds: float) -> dict:
    with Dataset(path) as ds:
        sampler = WindowSampler(ds, window=16, batch_size=256, in_memory=in_memory, seed=0)
        sampler.sample()
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            sampler.sample()
            n += 1
        dt = time.perf_counter() - t0
        return {
            "rows": ds.n_steps,
            "episodes": ds.n_episodes,
            "file_mb": round(path.stat().st_size / 2**20, 1),
            "in_memory": sampler.in_memory,
            "batches": n,
            "windows_per_s": round(n * 256 / dt),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/sampler.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        vec = Path(tmp) / "vector.h5"
        write_dataset(vec, gym.spaces.Box(-1, 1, (17,), np.float32), 1000, 200, 0)
        results["vector_17d"] = {**measure(vec, None, args.seconds), "target": 20000}
        img = Path(tmp) / "images.h5"
        write_dataset(img, gym.spaces.Box(0, 255, (64, 64, 3), np.uint8), 300, 100, 1)
        results["image_64x64x3_chunked"] = {**measure(img, False, args.seconds), "target": 2000}
    report = {
        "benchmark": "WindowSampler windows/s, T=16, batch 256",
        "command": "python benchmarks/bench_sampler.py " + " ".join(sys.argv[1:]),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch_threads": torch.get_num_threads(),
        },
        "date": time.strftime("%Y-%m-%d"),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for name, r in results.items():
        ok = "ok" if r["windows_per_s"] >= r["target"] else "BELOW TARGET"
        print(f"{name:<24} {r['windows_per_s']:>10,} windows/s  (target {r['target']:,}: {ok})")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
