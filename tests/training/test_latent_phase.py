"""The frozen-encoder phase: the switch, the cached-latent windows, exact resume across it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from forethought.core import allocator
from forethought.core.errors import ForethoughtError
from forethought.data.reader import Dataset
from forethought.data.sampler import WindowSampler
from forethought.training import load_checkpoint, train
from forethought.training.latent_phase import (
    LatentPhaseModel,
    LatentWindowSampler,
    cache_latents,
)
from forethought.training.optim import lr_at
from tests.training.helpers import TinyLatentModel, TinyModel, read_metrics, small_cfg


def _train(data, out, cfg, factory=lambda ds: TinyLatentModel(), **kw):
    kw.setdefault("threads", 1)
    kw.setdefault("note", lambda msg: None)
    return train(data, out, cfg, factory, model_name="tiny-latent", preset="t", **kw)


def _cfg(**kw):
    base = dict(steps=40, encoder_share=0.5, latent_batch_size=16, log_every=1, val_every=5,
                ckpt_every=20, keep_checkpoints=5)  # fmt: skip
    base.update(kw)
    return small_cfg(**base)


def test_the_encoder_freezes_at_its_share_and_the_predictor_keeps_learning(linear_data, tmp_path):
    notes: list[str] = []
    _train(linear_data, tmp_path / "run", _cfg(), note=notes.append)
    assert len(notes) == 1 and notes[0].startswith("step 20: encoder frozen; cached 400 latents")
    at_20 = load_checkpoint(tmp_path / "run/checkpoints/step_00000020.json")
    at_40 = load_checkpoint(tmp_path / "run")
    assert at_20.info.latent_phase_from is None
    assert at_40.info.latent_phase_from is not None and at_40.info.latent_phase_from[0] == 20
    for name in ("encoder.weight", "encoder.bias"):
        assert torch.equal(at_20.model[name], at_40.model[name])
    assert not torch.equal(at_20.model["predictor.0.weight"], at_40.model["predictor.0.weight"])
    records = read_metrics(tmp_path / "run")
    assert "train/var" in records[19] and "train/var" not in records[20]  # the loss switched
    frames = [r["frames_per_s"] / r["steps_per_s"] for r in records if r["steps_per_s"]]
    assert frames[0] == pytest.approx(8 * 6, rel=0.01)
    assert frames[-1] == pytest.approx(16 * 6, rel=0.01)


def test_the_latent_window_sets_the_predictor_windows(linear_data, tmp_path):
    notes: list[str] = []
    _train(linear_data, tmp_path / "run", _cfg(steps=24, latent_window=9), note=notes.append)
    assert notes[0].endswith("batches of 16 windows of 9 rows")
    records = read_metrics(tmp_path / "run")
    frames = [r["frames_per_s"] / r["steps_per_s"] for r in records if r["steps_per_s"]]
    assert frames[0] == pytest.approx(8 * 6, rel=0.01)  # end to end: --window 6
    assert frames[-1] == pytest.approx(16 * 9, rel=0.01)


def test_a_latent_window_longer_than_every_episode_is_refused_before_the_run(linear_data, tmp_path):
    with pytest.raises(ForethoughtError) as e:
        _train(linear_data, tmp_path / "run", _cfg(latent_window=10_000))
    assert "\n" not in str(e.value) and "use a shorter --latent-window" in str(e.value)
    assert not (tmp_path / "run").exists()


def test_out_of_memory_on_cached_latents_names_the_latent_flags(linear_data, tmp_path):
    class Hungry(TinyLatentModel):
        def latent_loss(self, z, action, is_first):
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB\nsee docs")

    with pytest.raises(ForethoughtError) as e:
        _train(linear_data, tmp_path / "run", _cfg(latent_window=9), lambda ds: Hungry())
    msg = str(e.value)
    assert "\n" not in msg and "step 21 with batch size 16 x window 9" in msg
    assert "lower --latent-batch-size (or --latent-window)" in msg


@pytest.mark.parametrize("stop_at", [10, 30])  # interrupted before and after the switch
def test_resume_across_the_switch_is_exact(linear_data, tmp_path, stop_at):
    cfg = _cfg(ckpt_every=None)
    _train(linear_data, tmp_path / "full", cfg)
    _train(linear_data, tmp_path / "split", cfg, stop_at=stop_at)
    assert _train(linear_data, tmp_path / "split", cfg, resume=True).step == 40

    def curve(run):
        return [(r["step"], r["train/loss"], r["grad_norm"], r["lr"], r.get("val/loss"))
                for r in read_metrics(run)]  # fmt: skip

    full, split = curve(tmp_path / "full"), curve(tmp_path / "split")
    assert len(full) == 40 and full == split  # exact float equality
    a, b = load_checkpoint(tmp_path / "full"), load_checkpoint(tmp_path / "split")
    assert all(torch.equal(a.model[k], b.model[k]) for k in a.model)
    assert a.info.latent_phase_from[0] == b.info.latent_phase_from[0] == 20


def test_a_model_without_the_phase_is_refused_in_one_line(linear_data, tmp_path):
    with pytest.raises(ForethoughtError) as e:
        _train(linear_data, tmp_path / "run", _cfg(), lambda ds: TinyModel())
    assert "\n" not in str(e.value) and "drop --encoder-share" in str(e.value)
    assert not (tmp_path / "run").exists()  # refused before the run folder is made
    assert isinstance(TinyLatentModel(), LatentPhaseModel)
    assert not isinstance(TinyModel(), LatentPhaseModel)


@pytest.mark.parametrize("in_memory", [True, False])
def test_the_cache_reads_rows_from_the_sampler_as_from_the_file(linear_data, in_memory):
    model = TinyLatentModel()
    with Dataset(linear_data) as ds:
        sampler = WindowSampler(ds, 6, 4, obs_keys=("state",), in_memory=in_memory)
        assert sampler.n_steps == ds.n_steps
        assert np.array_equal(sampler.read("obs/state", 3, 50), ds.read("obs/state", 3, 50))
        from_file = cache_latents(model, ds, ("state",), torch.device("cpu"))
        from_sampler = cache_latents(model, sampler, ("state",), torch.device("cpu"))
    assert torch.equal(from_file, from_sampler)


def test_latent_windows_stay_inside_training_episodes(linear_data):
    with Dataset(linear_data) as ds:
        z = cache_latents(TinyLatentModel(), ds, ("state",), torch.device("cpu"))
        assert z.shape == (ds.n_steps, 4)
        rows = torch.arange(ds.n_steps, dtype=torch.float32)[:, None].expand(-1, 4)
        episodes = np.array([1, 4, 7])
        sampler = LatentWindowSampler(rows, ds, episodes, window=6, batch_size=200, seed=0)
        batch = sampler.sample()
        starts, lengths = ds.episode_starts[episodes], ds.episode_lengths[episodes]
        action = torch.from_numpy(ds.load("action"))
    assert batch.z.shape == (200, 6, 4) and batch.is_first.shape == (200, 6)
    first = batch.z[:, 0, 0].long().numpy()
    assert (np.diff(batch.z[..., 0].numpy(), axis=1) == 1).all()  # consecutive rows
    inside = (first[:, None] >= starts) & (first[:, None] + 6 <= starts + lengths)
    assert inside.any(1).all()  # each window inside one of the chosen episodes
    assert not batch.is_first[:, 1:].any()
    assert torch.equal(batch.action, action[batch.z[..., 0].long()])
    assert sampler.n_windows == int((lengths - 5).sum())


def test_the_schedule_restarts_at_the_switch():
    cfg = small_cfg(steps=100, warmup_steps=5, lr=1e-2, min_lr_ratio=0.1)
    assert lr_at(cfg, 40, origin=(40, 0.0)) == pytest.approx(1e-2 / 5)  # warmup again
    assert lr_at(cfg, 45, origin=(40, 0.0)) == pytest.approx(1e-2)  # the cosine's peak
    assert lr_at(cfg, 100, origin=(40, 0.0)) == pytest.approx(1e-3)  # its floor at the end
    timed = small_cfg(steps=None, time_budget_s=60.0, warmup_steps=0, lr=1e-2)
    assert lr_at(timed, 9, 20.0, origin=(9, 20.0)) == pytest.approx(1e-2)
    assert lr_at(timed, 99, 40.0, origin=(9, 20.0)) == pytest.approx(0.5 * (1e-2 + 1e-3))


class NanWhenFrozen(TinyLatentModel):
    def latent_loss(self, z, action, is_first):
        pred, terms = super().latent_loss(z, action, is_first)
        return pred * float("nan"), terms


def test_a_non_finite_frozen_phase_points_at_its_own_rate(linear_data, tmp_path):
    with pytest.raises(ForethoughtError) as e:
        _train(linear_data, tmp_path / "run", _cfg(), lambda ds: NanWhenFrozen())
    msg = str(e.value)
    assert "step 21" in msg and "step_00000020.json" in msg and msg.endswith("--latent-lr")


def test_latent_lr_sets_the_frozen_phase_peak_only():
    cfg = small_cfg(steps=100, warmup_steps=5, lr=1e-2, min_lr_ratio=0.1, latent_lr=2e-3)
    assert lr_at(cfg, 5) == pytest.approx(1e-2)  # end to end: --lr
    assert lr_at(cfg, 45, origin=(40, 0.0)) == pytest.approx(2e-3)  # frozen: its own peak
    assert lr_at(cfg, 100, origin=(40, 0.0)) == pytest.approx(2e-4)  # and its own floor
    with pytest.raises(ForethoughtError, match="latent_lr"):
        small_cfg(latent_lr=0.0)


def test_encoder_share_is_validated():
    with pytest.raises(ForethoughtError, match="encoder_share must be in"):
        small_cfg(encoder_share=1.0)
    with pytest.raises(ForethoughtError, match="encoder_share and ema_decay cannot be combined"):
        small_cfg(encoder_share=0.5, ema_decay=0.99)
    with pytest.raises(ForethoughtError, match="latent_window must be an integer >= 2"):
        small_cfg(encoder_share=0.5, latent_window=1)


class _RecordsAllocator(TinyLatentModel):
    """Records whether freed memory is kept at each training loss and at the cache build."""

    def __init__(self) -> None:
        super().__init__()
        self.kept_in_loss: list[bool] = []
        self.kept_in_cache: list[bool] = []

    def loss(self, batch):
        self.kept_in_loss.append(allocator.is_kept())
        return super().loss(batch)

    def encode_goal(self, obs):
        if not self.training and not self.encoder.weight.requires_grad:  # frozen: the cache
            self.kept_in_cache.append(allocator.is_kept())
        return super().encode_goal(obs)


def test_freed_memory_is_kept_end_to_end_and_for_the_cache_only(linear_data, tmp_path):
    model = _RecordsAllocator()
    if not allocator.keep_freed_memory():
        pytest.skip("the allocator setting needs glibc")
    allocator.return_freed_memory()
    _train(linear_data, tmp_path / "run", _cfg(), factory=lambda ds: model)
    assert model.kept_in_loss and all(model.kept_in_loss)  # the end-to-end steps
    assert model.kept_in_cache and all(model.kept_in_cache)  # and the cache build
    assert not allocator.is_kept()  # the defaults once training stops
