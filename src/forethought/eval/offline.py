"""Offline evaluation of a run on held-out data: what ``forethought evaluate --data`` stores.

Everything is measured on the same held-out windows and in the world's own units:

- open-loop k-step error (probe reading of imagined latents against the true state, k = 1..K),
  with two baselines on the same windows: copy-last-state and a least-squares linear dynamics
  model fitted on the run's training episodes; plus the normalized latent error;
- robustness: the error at one fixed k while the observed frames (Gaussian pixel or sensor
  noise, an occluding square, frozen/dropped frames) or the imagined actions are perturbed;
- calibration (ensembles): how well disagreement ranks the errors, and a reliability curve.

Every curve carries its sample counts. The probe (latent -> state) is fitted on the run's own
training episodes, never on held-out rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from forethought.core.errors import ForethoughtError
from forethought.data.reader import Dataset
from forethought.data.sampler import WindowBatch, WindowSampler
from forethought.eval.grounded import (
    _states,
    encode_rows,
    fit_state_probe,
    open_loop_errors,
)
from forethought.eval.metrics import (
    LinearDynamicsBaseline,
    copy_last_baseline,
    effective_rank,
    kstep_errors,
    reliability_curve,
)
from forethought.eval.perturb import action_noise, drop_frames, feature_noise, occlude, pixel_noise
from forethought.eval.run_heads import cached_mlp_head

TRUTH_KEY = "__truth__"  # the clean state rides along under this key while inputs are perturbed


@dataclass(frozen=True)
class OfflineEvalConfig:
    """What to measure; the sweeps' levels are in each perturbation's own units."""

    horizon: int = 16  # K imagined steps
    context: int = 1  # observed rows before imagining
    windows: int = 512  # held-out windows
    state_key: str = "state"
    state_dims: tuple[int, ...] | None = None  # None: every state dim
    probe_rows: int = 16384
    probe_steps: int = 2000
    sweep_k: int = 8  # the step at which robustness is reported
    pixel_noise: tuple[float, ...] = (0.0, 16.0, 32.0, 64.0)  # std in 0..255 levels
    sensor_noise: tuple[float, ...] = (0.0, 0.1, 0.3, 1.0)  # std in units of each feature's std
    occlusion: tuple[int, ...] = (0, 8, 16, 24)  # square side in pixels
    drop_context: int = 8  # observed rows in the dropped-frames sweep
    drop_rate: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75)
    action_noise: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2)  # std relative to the action range
    seed: int = 0

    def __post_init__(self) -> None:
        if self.horizon < 1 or self.context < 1 or self.windows < 2:
            raise ForethoughtError("evaluate: need horizon >= 1, context >= 1 and windows >= 2")
        if not 1 <= self.sweep_k <= self.horizon:
            raise ForethoughtError(f"evaluate: sweep k must be in [1, {self.horizon}]")


def _heldout_episodes(run: Any, ds: Dataset) -> tuple[np.ndarray, str]:
    """The run's validation episodes when ``ds`` is its training set, else every episode."""
    if ds.fingerprint() == run.dataset["fingerprint"]:
        val = np.asarray(run.dataset["val_episodes"], dtype=np.int64)
        if val.size == 0:
            raise ForethoughtError(
                "this is the run's training dataset and the run kept no held-out episodes; "
                "pass a separate held-out dataset with --data"
            )
        return val, "the run's held-out episodes of its training dataset"
    return np.arange(ds.n_episodes), "every episode (a separate dataset)"


def _action_inputs(model: Any, actions: torch.Tensor) -> torch.Tensor:
    """Actions as float features for the linear baseline (one-hot when discrete)."""
    if actions.is_floating_point():
        return actions
    return F.one_hot(actions.long(), int(model.spec.action_dim)).float()


def _with_truth(batch: WindowBatch, cfg: OfflineEvalConfig) -> WindowBatch:
    truth = _states(batch.obs, cfg.state_key, cfg.state_dims)  # (B, T, S)
    return replace(batch, obs={**batch.obs, TRUTH_KEY: truth})


def _error_at_k(model: Any, batch: WindowBatch, probe: Any, context: int, k: int) -> dict:
    r = open_loop_errors(model, batch, probe, context, state_key=TRUTH_KEY, dims=None)
    i = k - 1
    return {
        "error": round(float(r.error.mean[i]), 4),
        "sem": round(float(r.error.sem[i]), 4),
        "n": int(r.error.count[i]),
    }


def _robustness(
    model: Any,
    batch: WindowBatch,
    main: WindowBatch,
    probe: Any,
    cfg: OfflineEvalConfig,
    keys: tuple[str, ...],
) -> dict[str, Any]:
    """Error at ``cfg.sweep_k`` against each perturbation level (level 0 is the clean error)."""
    images = tuple(k for k in keys if main.obs[k].dtype == torch.uint8)
    vectors = tuple(k for k in keys if k not in images)
    spec = model.spec
    sweeps: list[tuple[str, tuple, Callable[[WindowBatch, float, torch.Generator], WindowBatch]]]
    sweeps = []
    if images:
        sweeps.append(
            (
                "pixel_noise",
                cfg.pixel_noise,
                lambda b, s, g: _map_obs(b, images, lambda v: pixel_noise(v, s, g)),
            )
        )
        sweeps.append(
            (
                "occlusion",
                cfg.occlusion,
                lambda b, s, g: _map_obs(b, images, lambda v: occlude(v, int(s), g)),
            )
        )
    if vectors:
        sweeps.append(
            (
                "sensor_noise",
                cfg.sensor_noise,
                lambda b, s, g: _map_obs(b, vectors, lambda v: feature_noise(v, s, g)),
            )
        )
    if not spec.discrete and spec.action_low is not None:
        lo, hi = spec.action_low, spec.action_high
        sweeps.append(
            (
                "action_noise",
                cfg.action_noise,
                lambda b, s, g: replace(b, action=action_noise(b.action, s, lo, hi, g)),
            )
        )
    out: dict[str, Any] = {"k": cfg.sweep_k}
    for name, levels, perturb in sweeps:
        out[name] = [
            {
                "level": level,
                **_error_at_k(
                    model, perturb(main, level, _gen(cfg)), probe, cfg.context, cfg.sweep_k
                ),
            }
            for level in levels
        ]
    rows, n = [], cfg.drop_context
    for p in cfg.drop_rate:
        obs, _ = drop_frames(
            {k: batch.obs[k][:, :n] for k in keys}, p, _gen(cfg), batch.is_first[:, :n]
        )
        obs = {k: torch.cat([obs[k], batch.obs[k][:, n:]], 1) for k in keys}
        dropped = replace(batch, obs={**batch.obs, **obs})
        rows.append({"level": p, **_error_at_k(model, dropped, probe, n, cfg.sweep_k)})
    out["dropped_frames"] = {"context": n, "rows": rows}
    return out


def _gen(cfg: OfflineEvalConfig) -> torch.Generator:
    return torch.Generator().manual_seed(cfg.seed + 1)


def _tail(batch: WindowBatch, t0: int) -> WindowBatch:
    """Rows ``t0:`` of every window (the first kept row acts as the belief's reset)."""
    return replace(
        batch,
        obs={k: v[:, t0:] for k, v in batch.obs.items()},
        action=batch.action[:, t0:],
        reward=batch.reward[:, t0:],
        is_first=batch.is_first[:, t0:],
        terminated=batch.terminated[:, t0:],
    )


def _map_obs(batch: WindowBatch, keys: tuple[str, ...], fn) -> WindowBatch:
    return replace(batch, obs={k: fn(v) if k in keys else v for k, v in batch.obs.items()})


def train_episodes(run: Any, ds: Dataset) -> np.ndarray:
    """The episodes of the run's training dataset ``ds`` that training did not hold out."""
    val = set(np.asarray(run.dataset["val_episodes"], dtype=np.int64).tolist())
    return np.array([e for e in range(ds.n_episodes) if e not in val], dtype=np.int64)


def open_training_data(run: Any, needs: tuple[str, ...], why: str) -> Dataset:
    """Open the run's training dataset, checking it still exists and has the keys ``needs``."""
    path = Path(run.dataset["path"])
    if not path.exists():
        raise ForethoughtError(
            f"the run's training dataset {path} is gone; {why} (restore it, or re-collect it "
            "with the same command)"
        )
    ds = Dataset(path)
    missing = [k for k in needs if k not in ds.meta.obs_keys]
    if missing:
        ds.close()
        raise ForethoughtError(
            f"training dataset {path} lacks observation key(s) {missing}; {why}, so it needs "
            "the model's keys and a true state (collect built-in envs with --obs both)"
        )
    return ds


def fit_run_probe(
    run: Any,
    state_key: str = "state",
    dims: tuple[int, ...] | None = (0, 1),
    rows: int = 16384,
    steps: int = 2000,
    seed: int = 0,
) -> Any:
    """A probe latent -> ``state_key[dims]`` fitted on frozen latents of the run's training
    episodes (never its held-out ones); a module mapping (..., D) to (..., S).

    The probe is stored in ``RUN/heads/`` and reused by later calls with the same settings and
    weights (see :mod:`forethought.eval.run_heads`)."""
    load = tuple(sorted(set(run.model.encoder.keys) | {state_key}))

    def fit() -> Any:
        with open_training_data(run, load, "the state probe is fitted on it") as tr:
            return fit_state_probe(
                run.model,
                tr,
                state_key,
                dims,
                rows=rows,
                episodes=train_episodes(run, tr),
                obs_keys=load,
                seed=seed,
                steps=steps,
            )

    settings = {
        "state_key": state_key,
        "dims": list(dims) if dims is not None else None,
        "rows": rows,
        "steps": steps,
        "seed": seed,
    }
    return cached_mlp_head(run, "state-probe", settings, fit)


def evaluate_offline(run: Any, heldout: Path, cfg: OfflineEvalConfig) -> dict[str, Any]:
    """Measure ``run`` (a :class:`~forethought.training.LoadedRun`) on ``heldout``."""
    model = run.model
    keys = tuple(model.encoder.keys)
    load = tuple(sorted(set(keys) | {cfg.state_key}))
    probe = fit_run_probe(
        run, cfg.state_key, cfg.state_dims, cfg.probe_rows, cfg.probe_steps, cfg.seed
    )
    why = "the linear baseline is fitted on it"
    with open_training_data(run, load, why) as tr:
        train_eps = train_episodes(run, tr)
        fit = WindowSampler(
            tr, 17, 1024, obs_keys=(cfg.state_key,), episodes=train_eps, seed=cfg.seed
        ).sample()
        linear = LinearDynamicsBaseline.fit_windows(
            _states(fit.obs, cfg.state_key, cfg.state_dims),
            _action_inputs(model, fit.action),
            fit.is_first,
        )
    with Dataset(heldout) as ds:
        missing = [k for k in load if k not in ds.meta.obs_keys]
        if missing:
            raise ForethoughtError(
                f"held-out dataset {heldout} lacks observation key(s) {missing}; collect it with "
                "the same --obs mode as the training data"
            )
        episodes, which = _heldout_episodes(run, ds)
        window = max(cfg.context, cfg.drop_context) + cfg.horizon
        batch = WindowSampler(
            ds, window, cfg.windows, obs_keys=load, episodes=episodes, seed=cfg.seed + 2
        ).sample()
        held_fp = ds.fingerprint()
    batch = _with_truth(batch, cfg)
    t0 = window - cfg.context - cfg.horizon  # main windows: the last context + K rows
    main = _tail(batch, t0)
    res = open_loop_errors(model, main, probe, cfg.context, state_key=TRUTH_KEY, dims=None)
    truth = main.obs[TRUTH_KEY]  # (B, T, S)
    c = cfg.context
    lin_pred = linear.rollout(truth[:, c - 1], _action_inputs(model, main.action[:, c:]))
    lin = kstep_errors(lin_pred, truth[:, c:])
    copy = copy_last_baseline(truth[:, c - 1], truth[:, c:])
    z = encode_rows(model, {k: main.obs[k].flatten(0, 1) for k in keys})

    robust = _robustness(model, batch, main, probe, cfg, keys)
    calibration = None
    if res.disagreement is not None:
        cal = res.calibration()
        calibration = {
            **(cal.to_dict() if cal is not None else {}),
            "reliability": reliability_curve(
                res.disagreement.reshape(-1), res.sample_errors.reshape(-1)
            ).to_dict(4),
        }
    k = cfg.horizon
    return {
        "run": str(run.path),
        "model": {"name": run.info.model_name, "preset": run.info.preset, "step": run.info.step},
        "train_dataset": {
            "path": str(run.dataset["path"]),
            "fingerprint": run.dataset["fingerprint"],
        },
        "heldout": {
            "path": str(heldout),
            "fingerprint": held_fp,
            "episodes": which,
            "n_episodes": int(len(episodes)),
            "windows": int(main.batch_size),
        },
        "state": {"key": cfg.state_key, "dims": list(cfg.state_dims or []) or "all"},
        "context": c,
        "horizon": k,
        "kstep": {
            "model": res.error.to_dict(4),
            "copy_last": copy.to_dict(4),
            "linear": lin.to_dict(4),
            "encoder_floor": res.encoder_error.to_dict(4),
            "normalized_latent_error": res.latent.to_dict(4),
        },
        "at_horizon": {
            "model": round(float(res.error.mean[-1]), 4),
            "copy_last": round(float(copy.mean[-1]), 4),
            "linear": round(float(lin.mean[-1]), 4),
            "model_over_copy_last": round(float(res.error.mean[-1] / copy.mean[-1]), 4)
            if float(copy.mean[-1]) > 0
            else None,
        },
        "latent": {
            "effective_rank": round(effective_rank(z), 2),
            "dim": int(z.shape[1]),
            "rows": int(z.shape[0]),
        },
        "robustness": robust,
        "calibration": calibration,
    }
