"""The training loop: AdamW, clipping, warmup + cosine, EMA, validation, logging, checkpoints."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from forethought.core.allocator import freed_memory_kept, return_freed_memory
from forethought.core.errors import ForethoughtError
from forethought.data.sampler import WindowBatch, WindowSampler
from forethought.training.checkpoint import Checkpoint, CheckpointInfo, save_checkpoint
from forethought.training.config import TrainConfig
from forethought.training.latent_phase import (
    LatentBatch,
    LatentPhaseModel,
    LatentWindowSampler,
    cache_latents,
    encode_windows,
    require_latent_phase,
)
from forethought.training.metrics import (
    IntervalMeans,
    MetricsLogger,
    Note,
    TrainProgress,
    finite_or_none,
    log_record,
    print_note,
)
from forethought.training.optim import EmaWeights, Origin, build_optimizer, lr_at
from forethought.training.rng import capture_rng, restore_rng
from forethought.training.rundir import RunDir
from forethought.training.sampling import restore_sampler, sampler_state

_LATENT_SEED_OFFSET = 2_000_003  # the frozen-encoder phase draws windows from its own stream


@dataclass(frozen=True)
class RunIdentity:
    """What every checkpoint records about the model and data it belongs to."""

    model_name: str  # registry name (or a free label for a custom model)
    preset: str
    model_config: dict[str, Any]  # the resolved model config, JSON form
    data_spec: dict[str, Any] | None  # model.spec in JSON form, when the model has one
    dataset_fingerprint: str


@dataclass(frozen=True)
class TrainResult:
    """How a call to :meth:`Trainer.fit` ended."""

    run_dir: Path
    step: int  # optimizer steps taken in total
    elapsed_s: float  # wall-clock seconds trained in total
    train_loss: float | None  # mean training loss over the last log interval
    val_loss: float | None  # last validation loss (None without validation)
    checkpoint: Path | None  # the last checkpoint written
    stopped: str  # "steps", "time" or "stop_at"


class Trainer:
    """Trains a built model (anything with ``loss(batch) -> (loss, terms)``) on window batches.

    With ``cfg.encoder_share`` the model must be a :class:`LatentPhaseModel`: after that share of
    the budget the trainer freezes its encoder and trains the rest on cached latents.

    Args:
        model: the model, already built (and seeded) by the caller.
        cfg: the training configuration.
        run: the run directory (prepared, with config.json and dataset.json written).
        train_sampler: windows from the training episodes.
        val_sampler: windows from the held-out episodes, or None.
        identity: the model and dataset identity recorded in every checkpoint.
        device: where the model and batches live.
        progress: show a progress bar (stderr).
        note: prints one-line messages to the user.
    """

    def __init__(
        self,
        model: nn.Module,
        cfg: TrainConfig,
        run: RunDir,
        train_sampler: WindowSampler,
        val_sampler: WindowSampler | None,
        identity: RunIdentity,
        device: torch.device | None = None,
        progress: bool = True,
        note: Note = print_note,
    ) -> None:
        self.cfg, self.run, self.identity, self.note = cfg, run, identity, note
        self.device = device or torch.device("cpu")
        if cfg.encoder_share is not None:
            require_latent_phase(model, identity.model_name)
        self.model = model.to(self.device).train()
        self.optimizer = build_optimizer(self.model, cfg)
        self.ema = EmaWeights(self.model, cfg.ema_decay) if cfg.ema_decay is not None else None
        self.train_sampler: WindowSampler | LatentWindowSampler = train_sampler
        self.window_sampler = train_sampler
        self.val_batches: list[WindowBatch] | list[LatentBatch] = (
            [val_sampler.sample() for _ in range(cfg.val_batches)] if val_sampler else []
        )
        self.latent_phase_from: Origin | None = None  # (step, elapsed s) the encoder froze at
        self.progress = progress
        self._frames = cfg.batch_size * cfg.window  # frames per step
        self.step = 0
        self.elapsed_prev = 0.0
        self.resumed_from: int | None = None
        self.last_checkpoint: Path | None = None
        self._updating = False

    # ------------------------------------------------------------------ state

    def load(self, ckpt: Checkpoint) -> None:
        """Continue exactly where ``ckpt`` stopped: weights, EMA, optimizer, RNGs, sampler."""
        self.model.load_state_dict(ckpt.model)
        if self.ema is not None:
            if ckpt.ema is None:
                raise ForethoughtError(f"{ckpt.path}: has no EMA weights but ema_decay is set")
            self.ema.load_state_dict(ckpt.ema)
        if ckpt.info.latent_phase_from is not None:
            self.enter_latent_phase(ckpt.info.latent_phase_from)
        if ckpt.optimizer is not None:
            self.optimizer.load_state_dict(ckpt.optimizer)
        restore_rng(ckpt.info.rng)
        restore_sampler(self.train_sampler, ckpt.info.sampler)
        self.step = self.resumed_from = ckpt.info.step
        self.elapsed_prev = ckpt.info.elapsed_s
        self.last_checkpoint = ckpt.path

    def save(self, elapsed_s: float) -> Path:
        """Checkpoint the current state (refuses non-finite weights: the last good one stays)."""
        bad = [n for n, p in self.model.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            raise ForethoughtError(
                f"weights went non-finite by step {self.step} (first: {bad[0]}); not saved. "
                f"{self._last_good()}"
            )
        ident = self.identity
        info = CheckpointInfo(
            step=self.step,
            elapsed_s=elapsed_s,
            model_name=ident.model_name,
            preset=ident.preset,
            model_config=ident.model_config,
            data_spec=ident.data_spec,
            train_config=self.cfg.to_dict(),
            dataset_fingerprint=ident.dataset_fingerprint,
            rng=capture_rng(),
            sampler=sampler_state(self.train_sampler),
            latent_phase_from=self.latent_phase_from,
        )
        self.last_checkpoint = save_checkpoint(
            self.run.checkpoints,
            info,
            self.model.state_dict(),
            self.ema.state_dict() if self.ema else None,
            self.optimizer.state_dict(),
            keep=self.cfg.keep_checkpoints,
        )
        return self.last_checkpoint

    # ------------------------------------------------------------------ loop

    def fit(self, stop_at: int | None = None) -> TrainResult:
        """Train until the budget is spent (or until step ``stop_at``, as if interrupted there).

        Raises:
            ForethoughtError: a non-finite loss or gradient, or out of memory (one line each).
        """
        cfg = self.cfg
        t0 = time.perf_counter()
        first_step, saved_step, last_ckpt_t = self.step, self.resumed_from, t0
        acc = IntervalMeans(self.step, t0)
        elapsed, lr, stopped = self.elapsed_prev, lr_at(cfg, self.step), ""
        val_loss, val_step = None, -1
        total = cfg.time_budget_s if cfg.steps is None else cfg.steps
        logger = MetricsLogger(self.run.metrics, self.run.tb, self.resumed_from, self.note)
        bar = TrainProgress("train", float(total), cfg.steps is None, self.progress)
        # freed memory kept until the cache is built: about twice the speed of a pixel step
        with logger, bar, freed_memory_kept(self.latent_phase_from is None):
            try:
                t_iter, slowest = t0, 0.0  # a decaying max of iteration times (logs, checkpoints)
                while True:
                    now = time.perf_counter()
                    elapsed = self.elapsed_prev + now - t0
                    slowest, t_iter = max(now - t_iter, 0.98 * slowest), now
                    if self._latent_phase_due(elapsed):
                        self.enter_latent_phase((self.step, elapsed))
                        t_iter = now = time.perf_counter()  # the cache is not a step
                        elapsed = self.elapsed_prev + now - t0
                    stopped = self._stop_reason(elapsed, slowest, stop_at)
                    if stopped:
                        break
                    lr = lr_at(cfg, self.step, elapsed, self.latent_phase_from)
                    acc.add(self._guarded_update(lr))
                    self.step += 1
                    do_val = bool(self.val_batches) and self.step % cfg.val_every == 0
                    if self.step % cfg.log_every == 0 or do_val:
                        record, rate = acc.flush(self.step)
                        if do_val:
                            record.update(self.validate())
                            val_loss, val_step = record["val/loss"], self.step
                        logger.log(log_record(self.step, elapsed, lr, record, rate, self._frames))
                        bar.update(self.step, elapsed, acc.last_loss, lr, rate)
                    if (cfg.ckpt_every and self.step % cfg.ckpt_every == 0) or (
                        cfg.ckpt_every_s and time.perf_counter() - last_ckpt_t >= cfg.ckpt_every_s
                    ):
                        self.save(self.elapsed_prev + time.perf_counter() - t0)
                        saved_step, last_ckpt_t = self.step, time.perf_counter()
            except KeyboardInterrupt:
                if not self._updating and self.step != saved_step:
                    path = self.save(self.elapsed_prev + time.perf_counter() - t0)
                    self.note(f"interrupted: saved {path} (step {self.step}); --resume continues")
                raise
            if acc.count or (self.val_batches and val_step != self.step and self.step > first_step):
                record, rate = acc.flush(self.step)
                if self.val_batches:
                    record.update(self.validate())
                    val_loss = record["val/loss"]
                logger.log(log_record(self.step, elapsed, lr, record, rate, self._frames))
            if self.step != saved_step:
                self.save(elapsed)
            if stopped != "stop_at" and acc.last_loss is not None:
                bar.update(self.step, elapsed, acc.last_loss, lr, 0.0, finished=True)
        return TrainResult(
            self.run.path,
            self.step,
            elapsed,
            acc.last_loss,
            val_loss,
            self.last_checkpoint,
            stopped,
        )

    def _stop_reason(self, elapsed: float, next_step_s: float, stop_at: int | None) -> str:
        cfg = self.cfg
        if stop_at is not None and self.step >= stop_at:
            return "stop_at"
        if cfg.steps is not None and self.step >= cfg.steps:
            return "steps"
        if cfg.time_budget_s is not None and elapsed + next_step_s >= cfg.time_budget_s:
            return "time"
        return ""

    def _guarded_update(self, lr: float) -> dict[str, float]:
        """One step with the user-facing failures turned into one-line errors."""
        try:
            batch = self.train_sampler.sample().to(self.device)
            return self._update(batch, lr)
        except KeyError as e:  # the model asked for a key the batch does not hold
            keys = sorted(self.window_sampler.obs_keys)
            raise ForethoughtError(
                f"the model needs {e} but the batches hold obs keys {keys}; train on a dataset "
                "with that key (or give the model an obs_keys attribute naming what it reads)"
            ) from e
        except RuntimeError as e:  # torch.OutOfMemoryError is a RuntimeError
            msg = str(e).lower()
            if "out of memory" in msg or "can't allocate memory" in msg:
                flags = (
                    "--latent-batch-size (or --latent-window)"
                    if self.latent_phase_from
                    else "--batch-size (or --window)"
                )
                raise ForethoughtError(
                    f"out of memory on {self.device} at step {self.step + 1} with batch size "
                    f"{self.train_sampler.batch_size} x window {self.train_sampler.window}; "
                    f"lower {flags}"
                ) from e
            raise

    def _update(self, batch: WindowBatch | LatentBatch, lr: float) -> dict[str, float]:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        loss, terms = _loss(self.model, batch)
        names = ["loss", *terms]
        values = torch.stack([loss.detach(), *(t.detach().float() for t in terms.values())])
        floats = dict(zip(names, values.cpu().tolist(), strict=True))
        bad = [n for n in (*terms, "loss") if not math.isfinite(floats[n])]
        if bad:
            raise ForethoughtError(
                f"loss went non-finite at step {self.step + 1}: term '{bad[0]}' = "
                f"{floats[bad[0]]}; stopped without saving. {self._last_good()}; {self._lower_lr()}"
            )
        self._updating = True
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        norm = torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip or math.inf)
        floats["grad_norm"] = float(norm)
        if not math.isfinite(floats["grad_norm"]):
            self._updating = False
            raise ForethoughtError(
                f"gradient norm went non-finite at step {self.step + 1} (loss "
                f"{floats['loss']:.4g}); stopped without saving. {self._last_good()}; "
                f"{self._lower_lr()}"
            )
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.model)
        self._updating = False
        return floats

    @torch.no_grad()
    def validate(self) -> dict[str, float | None]:
        """Mean loss and terms on the held-out batches (EMA weights when on); RNGs untouched."""
        model = self.ema.module if self.ema is not None else self.model
        was_training = model.training
        model.eval()
        sums: dict[str, float] = {}
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            for batch in self.val_batches:
                loss, terms = _loss(model, batch.to(self.device))
                for k, v in {"loss": loss, **terms}.items():
                    sums[k] = sums.get(k, 0.0) + float(v)
        model.train(was_training)
        return {f"val/{k}": finite_or_none(v / len(self.val_batches)) for k, v in sums.items()}

    # ------------------------------------------------------------------ frozen encoder

    def _latent_phase_due(self, elapsed: float) -> bool:
        cfg, share = self.cfg, self.cfg.encoder_share
        if share is None or self.latent_phase_from is not None:
            return False
        if cfg.steps is not None:
            return self.step >= round(share * cfg.steps)
        return elapsed >= share * float(cfg.time_budget_s)

    def enter_latent_phase(self, origin: Origin) -> None:
        """Freeze the encoder, cache every row's latent, and train the predictor on them from
        here: a fresh optimizer over what still trains, with its schedule starting at ``origin``
        (the step and elapsed seconds of the switch), and windows from the latent sampler."""
        model: LatentPhaseModel = self.model  # type: ignore[assignment]  # checked in __init__
        t0 = time.perf_counter()
        model.freeze_encoder()
        self.model.eval()
        sampler = self.window_sampler
        latents = cache_latents(model, sampler, sampler.obs_keys, self.device)
        self.val_batches = [encode_windows(model, b, self.device) for b in self.val_batches]
        return_freed_memory()  # the cached-latent steps are small tensors: defaults again
        self.model.train()
        window = self.cfg.latent_window or self.cfg.window
        self.train_sampler = LatentWindowSampler(
            latents,
            sampler.dataset,
            sampler.episodes,
            window,
            self.cfg.latent_batch_size,
            self.cfg.seed + _LATENT_SEED_OFFSET,
        )
        self.optimizer = build_optimizer(self.model, self.cfg)
        self._frames = self.cfg.latent_batch_size * window
        self.latent_phase_from = (int(origin[0]), float(origin[1]))
        self.note(
            f"step {origin[0]}: encoder frozen; cached {latents.shape[0]} latents of "
            f"{latents.shape[1]} dims in {time.perf_counter() - t0:.1f}s; the predictor trains "
            f"on them in batches of {self.cfg.latent_batch_size} windows of {window} rows"
        )

    def _lower_lr(self) -> str:
        flag = "--latent-lr" if self.latent_phase_from is not None else "--lr"
        return f"try a lower {flag}"

    def _last_good(self) -> str:
        if self.last_checkpoint is None:
            return "No checkpoint was saved before it"
        return f"The last good checkpoint is {self.last_checkpoint}"


def _loss(model: nn.Module, batch: WindowBatch | LatentBatch) -> tuple[torch.Tensor, dict]:
    """The model's loss on a batch of windows, or its predictor's on cached latents."""
    if isinstance(batch, LatentBatch):
        return model.latent_loss(batch.z, batch.action, batch.is_first)  # type: ignore[operator]
    return model.loss(batch)
