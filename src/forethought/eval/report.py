"""``forethought report RUN``: one self-contained ``report.html`` and a ``report.md`` beside it.

The report only reads what the run directory holds (``config.json``, ``dataset.json``,
``env.json``, ``metrics.jsonl`` from training, ``metrics.json`` from ``forethought evaluate``)
plus the videos it is handed; a section whose measurement is missing says which command makes
it. The HTML embeds every image (base64), so it opens from disk with no network; the Markdown
links the same images, written to ``report_files/``.
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from forethought.core.errors import ForethoughtError
from forethought.data.reader import Dataset
from forethought.data.sampler import WindowSampler
from forethought.eval import report_figures as figs
from forethought.eval.grounded import encode_rows
from forethought.models.heads import fit_image_decoder


@dataclass(frozen=True)
class Media:
    """An image or animation in the report: file name, bytes, caption."""

    name: str  # e.g. "errors.png"; the suffix picks the MIME type
    data: bytes
    caption: str = ""


@dataclass(frozen=True)
class Section:
    title: str
    text: str = ""  # plain text paragraphs (blank-line separated)
    table: list[list[str]] = field(default_factory=list)  # first row is the header
    media: list[Media] = field(default_factory=list)
    code: str = ""  # preformatted block (the config)


def gif_bytes(frames: list[np.ndarray], fps: int = 5) -> bytes:
    """(H, W, 3) uint8 frames -> an endlessly looping GIF."""
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    buf = io.BytesIO()
    images[0].save(
        buf, format="GIF", save_all=True, append_images=images[1:], duration=1000 // fps, loop=0
    )
    return buf.getvalue()


def _rgb(img: np.ndarray, scale: int) -> np.ndarray:
    """(H, W, C) uint8 -> (H*scale, W*scale, 3), nearest-neighbour upscaled."""
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    return np.kron(img[..., :3], np.ones((scale, scale, 1), dtype=np.uint8))


@torch.no_grad()
def imagined_futures(
    run: Any, data: Path, count: int = 3, horizon: int = 16, decoder_steps: int = 300
) -> list[Media]:
    """GIFs of real frames (left) beside imagined ones decoded to images (right).

    An :class:`~forethought.models.heads.ImageDecoder` is fitted on frozen latents of the run's
    training episodes (``decoder_steps`` Adam steps); the model observes the first frame of a
    held-out window and imagines ``horizon`` steps from the recorded actions alone.
    """
    model = run.model.eval()
    keys = tuple(model.encoder.keys)
    image_keys = [s.key for s in model.spec.select(keys) if s.is_image]
    if not image_keys:
        return []
    key = image_keys[0]
    val = np.asarray(run.dataset["val_episodes"], dtype=np.int64)
    with Dataset(data) as ds:
        train_eps = np.setdiff1d(np.arange(ds.n_episodes), val)
        fit = WindowSampler(ds, 8, 512, obs_keys=keys, episodes=train_eps, seed=5).sample()
        held = WindowSampler(
            ds, horizon + 1, count, obs_keys=keys, seed=6, episodes=val if val.size else None
        ).sample()
    z = encode_rows(model, {k: v.flatten(0, 1) for k, v in fit.obs.items()})
    with torch.enable_grad():
        decoder = fit_image_decoder(
            z, fit.obs[key].flatten(0, 1), steps=decoder_steps, batch_size=32, channels=16
        )
    belief = model.observe(
        model.initial(count),
        {k: v[:, 0] for k, v in held.obs.items()},
        held.action[:, 0],
        torch.ones(count, dtype=torch.bool),
    )
    imagined = decoder.to_uint8(model.imagine(belief, held.action[:, 1:]).latents).numpy()
    real = held.obs[key].numpy()  # (B, K + 1, H, W, C)
    out = []
    for i in range(count):
        gap = np.full((real.shape[2] * 3, 6, 3), 255, np.uint8)
        frames = [
            np.concatenate([_rgb(real[i, t], 3), gap, _rgb(imagined[i, t - 1], 3)], axis=1)
            for t in range(1, horizon + 1)
        ]
        out.append(Media(f"imagined_{i}.gif", gif_bytes(frames), f"window {i + 1}"))
    return out


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _f(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def build_sections(run_dir: Path, videos: list[Media], planning_videos: list[Media]) -> list:
    """The report's sections, from the files in ``run_dir`` and the given videos."""
    try:
        config = json.loads((run_dir / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ForethoughtError(f"{run_dir}: no readable config.json ({e}); is it a run?") from e
    dataset = json.loads((run_dir / "dataset.json").read_text())
    env = json.loads((run_dir / "env.json").read_text()) if (run_dir / "env.json").exists() else {}
    rows = _read_jsonl(run_dir / "metrics.jsonl")
    mpath = run_dir / "metrics.json"
    metrics = json.loads(mpath.read_text()) if mpath.exists() else {}
    offline, planning = metrics.get("offline"), metrics.get("planning")
    model = config["model"]
    last = rows[-1] if rows else {}
    summary = [
        ["model", f"{model['name']} ({model['preset']})"],
        ["trained", f"{last.get('step', 0)} steps, {last.get('time_s', 0):.0f} s"],
        ["dataset", f"{dataset['path']} (fingerprint {dataset['fingerprint']})"],
        ["held-out episodes", str(len(dataset.get("val_episodes", [])))],
        ["versions", ", ".join(f"{k} {env[k]}" for k in ("forethought", "torch") if k in env)],
        ["git commit", str(env.get("git_commit", "-"))],
    ]
    units = "state units"
    sections = [Section("Run", table=[["", ""], *summary])]
    if rows:
        sections.append(
            Section("Training", media=[Media("training.png", figs.training_curves(rows))])
        )
    else:
        sections.append(Section("Training", text="metrics.jsonl is empty or missing."))
    evaluate_hint = f"Run `forethought evaluate {run_dir} --data HELDOUT.h5` to measure it."
    if offline:
        at = offline["at_horizon"]
        k = offline["horizon"]
        ho = offline["heldout"]
        text = (
            f"{ho['windows']} windows from {ho['episodes']} ({ho['path']}). After observing "
            f"{offline['context']} frame(s) the model imagines {k} steps from the actions alone; "
            f"a probe fitted on training episodes reads the state from each latent.\n\n"
            f"{k}-step error: {_f(at['model'], 3)} (copy-last {_f(at['copy_last'], 3)}, linear "
            f"{_f(at['linear'], 3)}; model / copy-last = {_f(at['model_over_copy_last'], 3)}). "
            f"Effective rank of the latent: {offline['latent']['effective_rank']} of "
            f"{offline['latent']['dim']}."
        )
        table = [["k", "model", "copy-last", "linear", "floor", "n"]]
        ks = offline["kstep"]
        for i in range(k):
            table.append(
                [str(i + 1)]
                + [
                    _f(ks[n]["mean"][i], 3)
                    for n in ("model", "copy_last", "linear", "encoder_floor")
                ]
                + [str(ks["model"]["count"][i])]
            )
        sections.append(
            Section(
                "Open-loop prediction",
                text,
                table,
                [Media("errors.png", figs.horizon_errors(ks, units))],
            )
        )
        rob = offline["robustness"]
        sections.append(
            Section(
                "Robustness",
                f"Error at k = {rob['k']} against each perturbation of the inputs "
                "(observed frames or the imagined actions); level 0 is the clean error.",
                media=[Media("robustness.png", figs.robustness(rob, units))],
            )
        )
        cal = offline.get("calibration")
        if cal:
            text = (
                f"Disagreement against error over {cal['n']} predictions: Pearson "
                f"{cal['pearson']:.3f}, Spearman {cal['spearman']:.3f}."
            )
            sections.append(
                Section(
                    "Uncertainty calibration",
                    text,
                    media=[Media("reliability.png", figs.reliability(cal))],
                )
            )
        else:
            sections.append(
                Section(
                    "Uncertainty calibration",
                    "A single predictor has no "
                    "disagreement to calibrate; train `jepa-ensemble` for one.",
                )
            )
    else:
        for title in ("Open-loop prediction", "Robustness", "Uncertainty calibration"):
            sections.append(Section(title, "Not measured yet. " + evaluate_hint))
    sections.append(
        Section(
            "Imagined futures",
            "Left: real frames. Right: the model's imagined frames, decoded by "
            "an image decoder fitted afterwards on frozen latents (not part of training)."
            if videos
            else "No image observations (or no dataset given): nothing to decode.",
            media=videos,
        )
    )
    if planning:
        table = [["row", "success [95% Wilson]", "steps to success", "plan ms (median)", "p95"]]
        for name, r in planning["rows"].items():
            s = r["success"]
            table.append(
                [
                    name,
                    f"{s['successes']}/{s['n']} = {100 * s['rate']:.1f}% "
                    f"[{100 * s['low']:.1f}, {100 * s['high']:.1f}]",
                    _f(r.get("steps_to_success_median"), 0),
                    _f(r.get("plan_ms_median"), 1),
                    _f(r.get("plan_ms_p95"), 1),
                ]
            )
        text = f"{planning['env']}, seed {planning['seed']}, planner budget {planning['budget']}."
        sections.append(Section("Planning", text, table, planning_videos))
    else:
        sections.append(
            Section(
                "Planning",
                f"Not measured yet. Run `forethought evaluate {run_dir} --planning --env ENV_ID`.",
                media=planning_videos,
            )
        )
    sections.append(Section("Config", code=json.dumps(config, indent=2)))
    return sections


_MIME = {".png": "image/png", ".gif": "image/gif"}
_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
    "font-size:13px}figure{display:inline-block;margin:0.5em}img{max-width:100%}"
    "pre{background:#f5f5f5;padding:1em;font-size:12px;max-height:30em;overflow:auto}"
)


def to_html(title: str, sections: list[Section]) -> str:
    parts = [
        f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style><h1>{html.escape(title)}</h1>",
    ]
    for s in sections:
        parts.append(f"<section><h2>{html.escape(s.title)}</h2>")
        parts += [f"<p>{html.escape(p)}</p>" for p in s.text.split("\n\n") if p]
        if s.table:
            head, *body = s.table
            parts.append("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head))
            for row in body:
                parts.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row))
            parts.append("</table>")
        for m in s.media:
            uri = f"data:{_MIME[Path(m.name).suffix]};base64,{base64.b64encode(m.data).decode()}"
            cap = f"<figcaption>{html.escape(m.caption)}</figcaption>" if m.caption else ""
            parts.append(f"<figure><img alt='{html.escape(m.name)}' src='{uri}'>{cap}</figure>")
        if s.code:
            parts.append(f"<pre>{html.escape(s.code)}</pre>")
        parts.append("</section>")
    return "\n".join(parts) + "\n"


def to_markdown(title: str, sections: list[Section], files: str) -> str:
    lines = [f"# {title}", ""]
    for s in sections:
        lines += [f"## {s.title}", ""]
        lines += [p + "\n" for p in s.text.split("\n\n") if p]
        if s.table:
            head, *body = s.table
            lines.append("| " + " | ".join(head) + " |")
            lines.append("|" + "---|" * len(head))
            lines += ["| " + " | ".join(r) + " |" for r in body]
            lines.append("")
        lines += [f"![{m.caption or m.name}]({files}/{m.name})\n" for m in s.media]
        if s.code:
            lines += ["```json", s.code, "```", ""]
    return "\n".join(lines) + "\n"


def write_report(run_dir: Path, out_dir: Path, sections: list[Section]) -> tuple[Path, Path]:
    """Write ``report.html``, ``report.md`` and ``report_files/`` into ``out_dir``."""
    title = f"forethought report: {run_dir.name}"
    files = out_dir / "report_files"
    files.mkdir(parents=True, exist_ok=True)
    for s in sections:
        for m in s.media:
            (files / m.name).write_bytes(m.data)
    html_path, md_path = out_dir / "report.html", out_dir / "report.md"
    html_path.write_text(to_html(title, sections))
    md_path.write_text(to_markdown(title, sections, "report_files"))
    return html_path, md_path
