"""Checkpoints: exact round trip, atomic replacement, keep-K, refusing pickles and corruption."""

from __future__ import annotations

import hashlib
import json
import os
import pickle

import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.training import (
    CheckpointInfo,
    TrainConfig,
    build_optimizer,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from forethought.training.rng import capture_rng
from tests.training.helpers import TinyConfig, TinyModel


def _trained(steps: int = 3) -> tuple[TinyModel, torch.optim.Optimizer, torch.Tensor]:
    torch.manual_seed(0)
    model = TinyModel(TinyConfig(dropout=0.0))
    opt = build_optimizer(model, TrainConfig(steps=10))
    x = torch.randn(16, 5)
    for _ in range(steps):
        opt.zero_grad()
        (model.net(x) ** 2).mean().backward()
        opt.step()
    return model, opt, x


def _info(step: int) -> CheckpointInfo:
    return CheckpointInfo(
        step=step,
        elapsed_s=1.5,
        model_name="tiny",
        preset="t",
        model_config={"hidden": 32},
        data_spec=None,
        train_config=TrainConfig(steps=10).to_dict(),
        dataset_fingerprint="abc",
        rng=capture_rng(),
        sampler={"bit_generator": {}, "in_memory": True, "n_windows": 1},
    )


def _save(folder, step, model, opt, keep=3):
    return save_checkpoint(folder, _info(step), model.state_dict(), None, opt.state_dict(), keep)


def test_round_trip_is_exact_and_continues_identically(tmp_path):
    model, opt, x = _trained()
    path = _save(tmp_path, 3, model, opt)
    ckpt = load_checkpoint(tmp_path)  # a folder resolves through 'latest'
    assert ckpt.path == path and ckpt.info.step == 3 and ckpt.info.model_config == {"hidden": 32}
    assert ckpt.info.rng["python"][1] == _info(3).rng["python"][1]  # RNG states as plain lists
    clone = TinyModel(TinyConfig(dropout=0.0))
    clone.load_state_dict(ckpt.model)
    clone_opt = build_optimizer(clone, TrainConfig(steps=10))
    clone_opt.load_state_dict(ckpt.optimizer)
    for m, o in ((model, opt), (clone, clone_opt)):  # one more identical step on both
        o.zero_grad()
        (m.net(x) ** 2).mean().backward()
        o.step()
    for a, b in zip(model.state_dict().values(), clone.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for sa, sb in zip(opt.state.values(), clone_opt.state.values(), strict=True):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_keeps_the_newest_k(tmp_path):
    model, opt, _ = _trained(1)
    for step in (1, 2, 3, 4):
        _save(tmp_path, step, model, opt, keep=2)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "latest",
        "step_00000003.json",
        "step_00000003.safetensors",
        "step_00000004.json",
        "step_00000004.safetensors",
    ]
    assert latest_checkpoint(tmp_path).name == "step_00000004.json"


@pytest.mark.parametrize("crash_on", ["step_00000002.safetensors", "step_00000002.json", "latest"])
def test_crash_before_replace_keeps_previous_checkpoint(tmp_path, monkeypatch, crash_on):
    model, opt, _ = _trained(1)
    _save(tmp_path, 1, model, opt)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    real_replace = os.replace

    def crashing_replace(src, dst):
        if os.path.basename(dst) == crash_on:
            raise RuntimeError("simulated crash between temp write and replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crashing_replace)
    with torch.no_grad():
        model.net[0].weight.add_(1.0)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _save(tmp_path, 2, model, opt)
    monkeypatch.undo()
    ckpt = load_checkpoint(tmp_path)
    assert ckpt.info.step == 1
    assert all(torch.equal(ckpt.model[k], before[k]) for k in before)
    # a temp file a killed writer left behind is harmless and cleaned up by the next save
    (tmp_path / ".tmp-step_00000002.safetensors-1-dead").write_bytes(b"half a file")
    _save(tmp_path, 2, model, opt)
    assert not list(tmp_path.glob(".tmp-*")) and load_checkpoint(tmp_path).info.step == 2


def _one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_refuses_pickle_files_without_unpickling(tmp_path, monkeypatch):
    model, opt, _ = _trained(1)
    path = _save(tmp_path, 1, model, opt)

    def no_unpickling(*args, **kwargs):
        raise AssertionError("loading must never unpickle")

    monkeypatch.setattr(torch, "load", no_unpickling)
    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    assert load_checkpoint(path).info.step == 1  # the real thing loads with pickle disabled
    pt = tmp_path / "model.pt"
    with open(pt, "wb") as f:
        pickle.dump({"weights": [1, 2, 3]}, f)
    with pytest.raises(ForethoughtError) as e:
        load_checkpoint(pt)
    assert "never unpickles" in _one_line(e)
    weights = path.with_suffix(".safetensors")  # a pickle where the weights should be
    torch.save(model.state_dict(), weights)
    with pytest.raises(ForethoughtError) as e:
        load_checkpoint(path)
    assert "pickle" in _one_line(e)


def test_refuses_corrupt_files_in_one_line(tmp_path):
    model, opt, _ = _trained(1)
    path = _save(tmp_path, 1, model, opt)
    weights = path.with_suffix(".safetensors")
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ForethoughtError) as e:
        load_checkpoint(path)
    assert "checksum mismatch" in _one_line(e)
    weights.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    header = json.loads(path.read_text())
    header["weights"]["sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    path.write_text(json.dumps(header))
    with pytest.raises(ForethoughtError) as e:
        load_checkpoint(path)
    assert "not a readable safetensors file" in _one_line(e)
    path.write_text("{truncated")
    with pytest.raises(ForethoughtError) as e:
        load_checkpoint(path)
    assert "not a forethought checkpoint" in _one_line(e)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ForethoughtError, match="no checkpoint found"):
        load_checkpoint(tmp_path / "empty")


def test_a_safetensors_header_length_starting_with_0x80_is_not_a_pickle(tmp_path):
    """Regression: a header of 0x..80 bytes made the first byte look like the pickle opcode."""
    from forethought.training.checkpoint import _refuse_pickle

    header = b'{"__metadata__":{"pad":"' + b"x" * (0x180 - 27) + b'"}}'
    assert len(header) == 0x180
    f = tmp_path / "w.safetensors"
    f.write_bytes(len(header).to_bytes(8, "little") + header)
    assert f.read_bytes()[0] == 0x80
    _refuse_pickle(f)  # no error
