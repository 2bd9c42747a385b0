"""``forethought report``: every section rendered to HTML and Markdown, images embedded."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from forethought.cli.main import main
from forethought.eval.report import gif_bytes, imagined_futures
from forethought.models import DataSpec, build_model
from forethought.training import TrainConfig, load_run, train
from tests.training.helpers import write_dataset

SECTIONS = (
    "Run",
    "Training",
    "Open-loop prediction",
    "Robustness",
    "Uncertainty calibration",
    "Imagined futures",
    "Planning",
    "Config",
)


def _train(data, out, **model_kwargs):
    torch.set_num_threads(1)
    cfg = TrainConfig(
        steps=4, batch_size=4, window=6, val_every=2, log_every=1, val_fraction=0.25, warmup_steps=1
    )
    factory = lambda ds: build_model("jepa", "tiny", DataSpec.from_dataset(ds), **model_kwargs)  # noqa: E731
    train(data, out, cfg, factory, model_name="jepa", preset="tiny", progress=False)
    return out


@pytest.fixture(scope="module")
def state_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    data = write_dataset(root / "train.h5", episodes=12, steps=24)
    return _train(data, root / "run", latent_dim=8), data


def test_report_before_evaluate_says_what_to_run(state_run, capsys):
    run, _ = state_run
    assert main(["report", str(run), "--videos", "0"]) == 0
    md = (run / "report.md").read_text()
    for title in SECTIONS:
        assert f"## {title}\n" in md
    assert md.count("Not measured yet") == 4  # three offline sections + planning
    assert "forethought evaluate" in md


def test_report_after_evaluate_embeds_every_figure(state_run, capsys):
    run, data = state_run
    assert (
        main(
            [
                "evaluate",
                str(run),
                "--data",
                str(data),
                "--windows",
                "16",
                "--horizon-k",
                "4",
                "--probe-steps",
                "20",
            ]
        )
        == 0
    )
    assert main(["report", str(run), "--videos", "0", "--out", str(run / "r")]) == 0
    html = (run / "r" / "report.html").read_text()
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in html
    assert "Not measured yet" not in html.split("<h2>Planning</h2>")[0]
    uris = html.split("src='data:image/png;base64,")[1:]
    assert len(uris) == 3  # training curves, open-loop errors, robustness
    for uri in uris:
        img = Image.open(io.BytesIO(base64.b64decode(uri.split("'")[0])))
        assert img.size[0] > 200 and img.size[1] > 100
    assert "http://" not in html and "https://" not in html  # opens with no network
    assert (run / "r" / "report_files" / "errors.png").is_file()
    assert "| 4 |" in (run / "r" / "report.md").read_text()  # the k = 4 row of the error table


def test_imagined_future_videos_pair_real_and_decoded_frames(small_dataset, tmp_path):
    run_dir = _train(small_dataset, tmp_path / "px", obs_keys=("pixels",), latent_dim=8)
    videos = imagined_futures(load_run(run_dir), small_dataset, count=2, horizon=3, decoder_steps=5)
    assert [v.name for v in videos] == ["imagined_0.gif", "imagined_1.gif"]
    gif = Image.open(io.BytesIO(videos[0].data))
    assert gif.size == (8 * 3 * 2 + 6, 8 * 3)  # real | white gap | imagined, upscaled 3x
    assert np.asarray(gif.convert("RGB"))[:, 24:30].min() == 255


def test_gif_bytes_keeps_every_distinct_frame():
    frames = [np.full((4, 4, 3), 60 * i, np.uint8) for i in range(3)]
    gif = Image.open(io.BytesIO(gif_bytes(frames, fps=5)))
    assert gif.n_frames == 3 and gif.info["loop"] == 0 and gif.info["duration"] == 200


def test_report_of_a_folder_that_is_not_a_run_is_one_line(tmp_path, capsys):
    rc = main(["report", str(tmp_path)])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc == 2 and len(err) == 1 and "not a run directory" in err[0], err


def chromium_screenshot(html_file, png, width=1200, height=3000):
    """Render ``html_file`` in headless Chromium (no network) into ``png``."""
    import shutil
    import subprocess

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("no chromium on this machine (Debian: apt-get install chromium)")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={png.parent / 'chromium-profile'}",
        f"--window-size={width},{height}",
        f"--screenshot={png}",
        html_file.resolve().as_uri(),
    ]
    subprocess.run([exe, *flags], check=True, capture_output=True, timeout=120)


@pytest.mark.slow
def test_report_renders_in_headless_chromium(state_run, tmp_path, capsys):
    run, data = state_run
    assert (
        main(
            [
                "evaluate",
                str(run),
                "--data",
                str(data),
                "--windows",
                "16",
                "--horizon-k",
                "4",
                "--probe-steps",
                "20",
                "--out",
                str(run / "metrics.json"),
            ]
        )
        == 0
    )
    assert main(["report", str(run), "--videos", "0", "--out", str(tmp_path)]) == 0
    png = tmp_path / "shot.png"
    chromium_screenshot(tmp_path / "report.html", png)
    img = np.asarray(Image.open(png).convert("L"))  # (H, W)
    rows_with_ink = (img < 128).any(axis=1).mean()
    assert img.shape == (3000, 1200) and rows_with_ink > 0.3  # text and figures, not a blank page
