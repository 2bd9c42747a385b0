"""The report's figures, drawn with matplotlib (Agg, no display) and returned as PNG bytes.

Each function takes plain values read from a run directory (``metrics.jsonl`` rows, the
``offline`` block of ``metrics.json``) and never touches the model.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np


def _figure(ncols: int = 1, width: float = 6.0, height: float = 3.6) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, axes[0]


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def training_curves(rows: list[dict[str, Any]]) -> bytes:
    """Loss terms against the optimizer step: training (lines) and validation (markers)."""
    fig, (ax_total, ax_terms) = _figure(2)
    steps = np.array([r["step"] for r in rows])
    terms = sorted(
        {k.split("/", 1)[1] for r in rows for k in r if k.startswith("train/")} - {"latent_std"}
    )
    for term in terms:
        ax = ax_total if term == "loss" else ax_terms
        y = np.array([r.get(f"train/{term}", np.nan) for r in rows], dtype=float)
        (line,) = ax.plot(steps, y, label=f"train {term}")
        val = [(r["step"], r[f"val/{term}"]) for r in rows if f"val/{term}" in r]
        if val:
            vs, vy = zip(*val, strict=True)
            ax.plot(vs, vy, "o", color=line.get_color(), label=f"val {term}")
    for ax, title in ((ax_total, "total loss"), (ax_terms, "loss terms")):
        ax.set(xlabel="optimizer step", title=title, yscale="log")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return _png(fig)


def horizon_errors(kstep: dict[str, Any], units: str) -> bytes:
    """Open-loop error against the step k, with copy-last and linear baselines (mean +- SEM)."""
    fig, (ax,) = _figure()
    labels = {
        "model": "world model",
        "copy_last": "copy last state",
        "linear": "linear dynamics (least squares)",
        "encoder_floor": "probe on real frames (floor)",
    }
    for key, label in labels.items():
        curve = kstep[key]
        mean, sem = np.array(curve["mean"]), np.array(curve["sem"])
        k = np.arange(1, len(mean) + 1)
        ax.errorbar(k, mean, yerr=sem, label=label, capsize=2, marker=".")
    ax.set(xlabel="steps ahead (k)", ylabel=f"error ({units})", title="open-loop error")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def robustness(robust: dict[str, Any], units: str) -> bytes:
    """One panel per perturbation: error at the fixed k against the perturbation level."""
    sweeps = {k: v for k, v in robust.items() if isinstance(v, list)}
    sweeps["dropped frames"] = robust["dropped_frames"]["rows"]
    fig, axes = _figure(len(sweeps), width=3.4, height=3.0)
    for ax, (name, rows) in zip(axes, sweeps.items(), strict=True):
        x = [r["level"] for r in rows]
        ax.errorbar(x, [r["error"] for r in rows], yerr=[r["sem"] for r in rows], marker="o")
        ax.set(title=name.replace("_", " "), xlabel="level", ylabel=f"error at k ({units})")
        ax.grid(alpha=0.3)
    return _png(fig)


def reliability(calibration: dict[str, Any]) -> bytes:
    """Mean error per disagreement bin (a calibrated ensemble rises monotonically)."""
    fig, (ax,) = _figure(width=4.5)
    rel = calibration["reliability"]
    ax.plot(rel["mean_disagreement"], rel["mean_error"], "o-")
    ax.set(xlabel="ensemble disagreement", ylabel="error", title="reliability")
    ax.grid(alpha=0.3)
    return _png(fig)
