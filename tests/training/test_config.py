"""TrainConfig validation, durations, the learning-rate schedule and the EMA update."""

from __future__ import annotations

import os
import re

import pytest
import torch
from torch import nn

from forethought.core.errors import ForethoughtError
from forethought.training import (
    EmaWeights,
    TrainConfig,
    default_threads,
    lr_at,
    parse_duration,
    resolve_device,
    set_threads,
)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("10m", 600), ("1h", 3600), ("1.5h", 5400), ("45", 45)]
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10x", "-5m", "0s", "m"])
def test_parse_duration_rejects_with_an_example(text):
    with pytest.raises(ForethoughtError, match="90s, 10m, 1h"):
        parse_duration(text)


def test_exactly_one_budget():
    with pytest.raises(ForethoughtError, match="exactly one budget"):
        TrainConfig()
    with pytest.raises(ForethoughtError, match="exactly one budget"):
        TrainConfig(steps=10, time_budget_s=5.0)
    assert TrainConfig(time_budget_s=5.0).steps is None


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("lr", 0.0, "lr must be a positive number"),
        ("lr", float("nan"), "lr must be a positive number"),
        ("ema_decay", 1.0, "ema_decay must be in (0, 1)"),
        ("batch_size", 0, "batch_size must be an integer >= 1"),
        ("val_fraction", 1.0, "val_fraction must be in [0, 1)"),
        ("grad_clip", -1.0, "grad_clip must be a positive number"),
        ("min_lr_ratio", 2.0, "min_lr_ratio must be in [0, 1]"),
    ],
)
def test_bad_values_say_what_and_how(field, value, fragment):
    with pytest.raises(ForethoughtError, match=re.escape(f"invalid training config: {fragment}")):
        TrainConfig(steps=10, **{field: value})


def test_dict_round_trip():
    cfg = TrainConfig(steps=7, ema_decay=0.99, betas=(0.8, 0.9))
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ForethoughtError, match="unknown training settings"):
        TrainConfig.from_dict({**cfg.to_dict(), "lr_max": 1})


def test_schedule_at_known_steps():
    cfg = TrainConfig(steps=110, lr=1.0, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_at(cfg, 0) == pytest.approx(0.1)  # warmup: lr * (step + 1) / warmup
    assert lr_at(cfg, 4) == pytest.approx(0.5)
    assert lr_at(cfg, 9) == pytest.approx(1.0)
    assert lr_at(cfg, 10) == pytest.approx(1.0)  # cosine starts at the peak
    assert lr_at(cfg, 60) == pytest.approx(0.55)  # halfway: floor + (peak - floor) / 2
    assert lr_at(cfg, 110) == pytest.approx(0.1)  # the floor
    assert lr_at(cfg, 500) == pytest.approx(0.1)
    timed = TrainConfig(time_budget_s=100.0, lr=1.0, warmup_steps=0, min_lr_ratio=0.0)
    assert lr_at(timed, 5, elapsed_s=50.0) == pytest.approx(0.5)
    assert lr_at(timed, 5, elapsed_s=100.0) == pytest.approx(0.0)


def test_ema_math_on_a_known_example():
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema = EmaWeights(model, decay=0.9)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema.update(model)  # 0.9 * 1 + 0.1 * 0
    assert ema.module.weight.item() == pytest.approx(0.9)
    ema.update(model)  # 0.9 * 0.9
    assert ema.module.weight.item() == pytest.approx(0.81)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)  # 0.9 * 0.81 + 0.1
    assert ema.module.weight.item() == pytest.approx(0.829)
    assert not ema.module.weight.requires_grad and model.weight.item() == 1.0


def test_device_and_threads_are_chosen_in_one_place():
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ForethoughtError, match="use --device cpu"):
            resolve_device("cuda")
    with pytest.raises(ForethoughtError, match="choose one of auto, cpu, cuda, mps"):
        resolve_device("tpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    expected = max(1, min(2, os.cpu_count() or 1))
    assert default_threads() == expected
    assert set_threads(None) == expected and torch.get_num_threads() == expected
    set_threads(1)
    with pytest.raises(ForethoughtError, match="--threads must be at least 1"):
        set_threads(0)
