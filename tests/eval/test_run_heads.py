"""The run-directory head cache: fit once, load after, refit on new settings or a bad file."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from forethought.eval.run_heads import HEADS_DIR, cached_mlp_head
from forethought.models.heads import fit_mlp_head


def _run(tmp_path, step: int = 10, bias: float = 0.0) -> SimpleNamespace:
    model = torch.nn.Linear(2, 2)
    torch.nn.init.constant_(model.weight, 1.0)
    torch.nn.init.constant_(model.bias, bias)
    return SimpleNamespace(
        path=tmp_path, model=model, info=SimpleNamespace(step=step), dataset={"fingerprint": "a"}
    )


def _fitter(calls: list[int]):
    def fit():
        calls.append(1)
        z = torch.randn(256, 5, generator=torch.Generator().manual_seed(len(calls)))
        return fit_mlp_head(z, z[:, :2] * 3.0, steps=20, width=16)

    return fit


def test_second_call_loads_the_same_head_without_fitting(tmp_path):
    calls: list[int] = []
    first = cached_mlp_head(_run(tmp_path), "probe", {"rows": 8}, _fitter(calls))
    second = cached_mlp_head(_run(tmp_path), "probe", {"rows": 8}, _fitter(calls))
    assert len(calls) == 1
    z = torch.randn(7, 5)
    torch.testing.assert_close(first(z), second(z))
    assert len(list((tmp_path / HEADS_DIR).glob("*.safetensors"))) == 1
    for head in (first, second):  # fitted or loaded, a head comes back frozen
        assert not head.training and not any(p.requires_grad for p in head.parameters())


def test_other_settings_checkpoint_or_weights_fit_a_new_head(tmp_path):
    calls: list[int] = []
    cached_mlp_head(_run(tmp_path), "probe", {"rows": 8}, _fitter(calls))
    cached_mlp_head(_run(tmp_path), "probe", {"rows": 9}, _fitter(calls))
    cached_mlp_head(_run(tmp_path, step=11), "probe", {"rows": 8}, _fitter(calls))
    cached_mlp_head(_run(tmp_path, bias=0.5), "probe", {"rows": 8}, _fitter(calls))  # e.g. EMA
    assert len(calls) == 4


def test_a_corrupt_cache_is_refitted_and_replaced(tmp_path):
    calls: list[int] = []
    cached_mlp_head(_run(tmp_path), "probe", {}, _fitter(calls))
    (weights,) = (tmp_path / HEADS_DIR).glob("*.safetensors")
    weights.write_bytes(b"not safetensors")
    head = cached_mlp_head(_run(tmp_path), "probe", {}, _fitter(calls))
    assert len(calls) == 2
    assert head(torch.zeros(1, 5)).shape == (1, 2)
    cached_mlp_head(_run(tmp_path), "probe", {}, _fitter(calls))  # the replacement loads
    assert len(calls) == 2
