"""The training loop end to end on a tiny model: learning, exact resume, budgets, failures."""

from __future__ import annotations

import json
import sys
import time

import pytest
import torch

from forethought.core.errors import DatasetError, ForethoughtError
from forethought.training import load_checkpoint, train
from forethought.training import metrics as metrics_module
from tests.training.helpers import (
    TinyConfig,
    TinyModel,
    read_metrics,
    small_cfg,
    tiny_factory,
    write_dataset,
)


def _train(data, out, cfg, factory=tiny_factory, **kw):
    kw.setdefault("threads", 1)
    kw.setdefault("note", lambda msg: None)
    return train(data, out, cfg, factory, model_name="tiny", preset="t", **kw)


def _one_line(e: pytest.ExceptionInfo) -> str:
    assert "\n" not in str(e.value)
    return str(e.value)


def test_learns_and_writes_the_run_directory(linear_data, tmp_path):
    out = tmp_path / "run"
    result = _train(linear_data, out, small_cfg(steps=150, log_every=10, val_every=50))
    records = read_metrics(out)
    assert [r["step"] for r in records] == list(range(10, 151, 10))
    first, last = records[0]["train/mse"], records[-1]["train/mse"]
    assert last < 0.25 * first, (first, last)  # the loss falls
    assert result.val_loss is not None and result.val_loss < records[0]["train/loss"]
    assert {"lr", "grad_norm", "frames_per_s", "steps_per_s", "time_s", "train/reg"} <= set(
        records[-1]
    )
    assert "val/mse" in records[4] and "val/mse" not in records[0]
    assert {p.name for p in out.iterdir()} >= {
        "config.json", "dataset.json", "env.json", "metrics.jsonl", "checkpoints",
    }  # fmt: skip
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == {"name": "tiny", "preset": "t", "config": {"hidden": 32,
                               "dropout": 0.1}, "data_spec": None}  # fmt: skip
    assert config["train"]["steps"] == 150
    dataset = json.loads((out / "dataset.json").read_text())
    assert dataset["episodes"] == 16 and len(dataset["val_episodes"]) == 2
    assert dataset["obs_keys_used"] == ["state"] and len(dataset["fingerprint"]) == 16
    env = json.loads((out / "env.json").read_text())
    assert env["torch_threads"] == 1 and env["device"] == "cpu" and env["git_commit"]
    assert {"python", "torch", "numpy", "gymnasium", "forethought"} <= set(env)
    assert load_checkpoint(out).info.step == 150 == result.step


def test_resume_continues_bit_for_bit(linear_data, tmp_path):
    cfg = small_cfg(steps=30, log_every=1, val_every=7, ckpt_every=None, ema_decay=0.9)
    _train(linear_data, tmp_path / "full", cfg)
    first = _train(linear_data, tmp_path / "split", cfg, stop_at=15)
    assert first.stopped == "stop_at" and first.step == 15
    second = _train(linear_data, tmp_path / "split", cfg, resume=True)
    assert second.step == 30 and second.stopped == "steps"

    def curve(run):
        return [(r["step"], r["train/loss"], r["grad_norm"], r["lr"], r.get("val/loss"))
                for r in read_metrics(run) if "train/loss" in r]  # fmt: skip

    full, split = curve(tmp_path / "full"), curve(tmp_path / "split")
    assert len(full) == 30 and full == split  # exact float equality, validation included
    a, b = load_checkpoint(tmp_path / "full"), load_checkpoint(tmp_path / "split")
    for part in ("model", "ema"):
        sa, sb = getattr(a, part), getattr(b, part)
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    env = json.loads((tmp_path / "split" / "env.json").read_text())
    assert env["resumed_at_step"] == 15 and len(env["previous"]) == 1


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(linear_data, tmp_path):
    def exploding(dataset):
        model = TinyModel()
        model.nan_at = 13
        return model

    out = tmp_path / "run"
    with pytest.raises(ForethoughtError) as e:
        _train(linear_data, out, small_cfg(ckpt_every=5), exploding)
    msg = _one_line(e)
    assert "step 13" in msg and "term 'mse'" in msg and "step_00000010.json" in msg
    assert msg.endswith("try a lower --lr")
    ckpt = load_checkpoint(out)
    assert ckpt.info.step == 10
    assert all(torch.isfinite(v).all() for v in ckpt.model.values())


def test_time_budget_stops_within_budget(linear_data, tmp_path):
    budget = 1.0
    t0 = time.perf_counter()
    result = _train(linear_data, tmp_path / "run", small_cfg(steps=None, time_budget_s=budget))
    wall = time.perf_counter() - t0
    assert result.stopped == "time" and result.step > 10
    assert result.elapsed_s <= budget + 0.05  # stops before a step would overrun (+ OS jitter)
    assert wall < budget + 3.0  # setup, final validation and checkpoint included
    assert load_checkpoint(tmp_path / "run").info.step == result.step


def test_refuses_existing_out_and_wrong_resumes(linear_data, tmp_path):
    out = tmp_path / "run"
    _train(linear_data, out, small_cfg(steps=5))
    with pytest.raises(ForethoughtError) as e:
        _train(linear_data, out, small_cfg(steps=5))
    assert "pass --resume" in _one_line(e) and "another --out" in str(e.value)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("mine")
    with pytest.raises(ForethoughtError, match="not a resumable run; choose another --out"):
        _train(linear_data, junk, small_cfg(steps=5))
    with pytest.raises(ForethoughtError, match="nothing to resume"):
        _train(linear_data, tmp_path / "nope", small_cfg(steps=5), resume=True)
    with pytest.raises(ForethoughtError, match=r"changed settings \(lr 0.003 -> 0.1\)"):
        _train(linear_data, out, small_cfg(steps=9, lr=0.1), resume=True)
    other = write_dataset(tmp_path / "other.h5", seed=1)
    with pytest.raises(ForethoughtError) as e:
        _train(other, out, small_cfg(steps=9), resume=True)
    recorded = json.loads((out / "dataset.json").read_text())["fingerprint"]
    assert "fingerprint" in _one_line(e) and recorded in str(e.value)
    assert _train(linear_data, out, small_cfg(steps=9), resume=True).step == 9  # budget may grow


def test_too_few_episodes_for_validation(tmp_path):
    data = write_dataset(tmp_path / "one.h5", episodes=1)
    with pytest.raises(ForethoughtError) as e:
        _train(data, tmp_path / "run", small_cfg(steps=5))
    assert "--val-fraction 0" in _one_line(e)
    assert not (tmp_path / "run").exists()  # nothing half-made left behind
    assert _train(data, tmp_path / "run", small_cfg(steps=5, val_fraction=0.0)).val_loss is None


def test_missing_keys_surface_as_one_line(linear_data, tmp_path):
    def needs_pixels(dataset):
        raise DatasetError(f"model 'x' needs obs key 'pixels'\n(has {dataset.meta.obs_keys})")

    with pytest.raises(ForethoughtError) as e:
        _train(linear_data, tmp_path / "a", small_cfg(), needs_pixels)
    assert "'pixels'" in _one_line(e) and not (tmp_path / "a").exists()

    def key_error(dataset):
        raise KeyError("velocity")

    with pytest.raises(ForethoughtError) as e:
        _train(linear_data, tmp_path / "b", small_cfg(), key_error)
    assert "cannot build model 'tiny'" in _one_line(e) and "velocity" in str(e.value)

    class ReadsVelocity(TinyModel):
        def loss(self, batch):
            return batch.obs["velocity"].sum(), {}

    with pytest.raises(ForethoughtError) as e:
        _train(linear_data, tmp_path / "c", small_cfg(), lambda ds: ReadsVelocity())
    assert "'velocity'" in _one_line(e) and "['state']" in str(e.value)


def test_out_of_memory_says_lower_batch_size(linear_data, tmp_path):
    class Hungry(TinyModel):
        def loss(self, batch):
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB\nsee docs")

    with pytest.raises(ForethoughtError) as e:
        _train(linear_data, tmp_path / "run", small_cfg(), lambda ds: Hungry(TinyConfig()))
    assert "lower --batch-size" in _one_line(e) and "batch size 8" in str(e.value)


def test_tensorboard_events_or_one_note(linear_data, tmp_path, monkeypatch):
    try:
        import torch.utils.tensorboard  # noqa: F401

        _train(linear_data, tmp_path / "tb", small_cfg(steps=10))
        assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "tb/tb").iterdir())
    except ImportError:
        pass
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import now fails
    monkeypatch.setattr(metrics_module, "_said_no_tensorboard", False)
    notes: list[str] = []
    for run in ("a", "b"):
        _train(linear_data, tmp_path / run, small_cfg(steps=5), note=notes.append)
    assert len(notes) == 1 and "tensorboard is not installed" in notes[0]
    assert not (tmp_path / "a" / "tb").exists() and (tmp_path / "a" / "metrics.jsonl").is_file()


def test_ctrl_c_saves_a_checkpoint_that_resumes(linear_data, tmp_path):
    class Interrupted(TinyModel):
        def loss(self, batch):
            if self.training and self.calls == 7:
                raise KeyboardInterrupt
            return super().loss(batch)

    notes: list[str] = []
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        _train(linear_data, out, small_cfg(), lambda ds: Interrupted(), note=notes.append)
    assert load_checkpoint(out).info.step == 7 and "--resume" in notes[-1]
    assert _train(linear_data, out, small_cfg(), resume=True).step == 40
