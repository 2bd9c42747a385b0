"""``check_world_model``: run the world-model contract on any model with random inputs.

Like Gymnasium's env checker: users run it on their own models, and our tests run it on every
registry entry and preset. Every failure is an ``AssertionError`` that says what broke.
"""

from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from forethought.models.base import Belief, Obs, Rollout, WorldModel
from forethought.models.spec import DataSpec

PREFIX = "check_world_model: "


@dataclass(frozen=True)
class SyntheticBatch:
    """A random batch of windows with the fields of ``data.sampler.WindowBatch``."""

    obs: dict[str, Tensor]  # key -> (B, T, *shape)
    action: Tensor  # (B, T, A) or (B, T)
    reward: Tensor  # (B, T)
    is_first: Tensor  # (B, T)
    terminated: Tensor  # (B, T)


def random_obs(spec: DataSpec, lead: tuple[int, ...], gen: torch.Generator) -> Obs:
    """Random observations with leading dims ``lead`` (images uint8, integers small, floats ~N)."""
    out = {}
    for o in spec.obs:
        shape = (*lead, *o.shape)
        if o.is_image:
            out[o.key] = torch.randint(0, 256, shape, generator=gen, dtype=torch.uint8)
        elif o.dtype.startswith(("int", "uint")):
            out[o.key] = torch.randint(0, 5, shape, generator=gen, dtype=torch.int64)
        else:
            mean = torch.tensor(o.mean).reshape(o.shape) if o.mean is not None else 0.0
            std = torch.tensor(o.std).reshape(o.shape) if o.std is not None else 1.0
            out[o.key] = torch.randn(shape, generator=gen) * std + mean
    return out


def random_actions(spec: DataSpec, lead: tuple[int, ...], gen: torch.Generator) -> Tensor:
    """Random valid actions: (*lead,) int64 indices or (*lead, A) floats inside the Box."""
    if spec.discrete:
        return torch.randint(0, spec.action_dim, lead, generator=gen)
    u = torch.rand((*lead, spec.action_dim), generator=gen)
    if spec.action_low is None:
        return 2.0 * u - 1.0
    low, high = torch.tensor(spec.action_low), torch.tensor(spec.action_high)
    return low + u * (high - low)


def random_batch(
    spec: DataSpec, batch_size: int, window: int, gen: torch.Generator
) -> SyntheticBatch:
    """Random windows; every other window starts an episode (``is_first`` on its row 0)."""
    is_first = torch.zeros(batch_size, window, dtype=torch.bool)
    is_first[::2, 0] = True
    return SyntheticBatch(
        obs=random_obs(spec, (batch_size, window), gen),
        action=random_actions(spec, (batch_size, window), gen),
        reward=torch.randn(batch_size, window, generator=gen),
        is_first=is_first,
        terminated=torch.zeros(batch_size, window, dtype=torch.bool),
    )


def check_world_model(
    model: nn.Module,
    data_spec: DataSpec,
    batch_size: int = 3,
    horizon: int = 4,
    candidates: int = 5,
    window: int = 6,
    seed: int = 0,
) -> None:
    """Check that ``model`` honours the :class:`~forethought.models.WorldModel` contract.

    Checks output shapes, belief carry (observe changes the belief; ``is_first`` resets it and
    ignores the action), determinism, a safetensors save/load round trip, that ``imagine`` over N
    candidates equals N separate calls, and that the loss is finite with gradients reaching the
    encoder and the dynamics. The model's train/eval mode is restored afterwards.

    Raises:
        AssertionError: naming the first broken promise.
    """
    _ok(isinstance(model, WorldModel), "the model lacks part of the WorldModel protocol")
    _ok(isinstance(model, nn.Module), "world models must be torch.nn.Module s")
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            _check_contract(model, data_spec, batch_size, horizon, candidates, seed)
            _check_save_load(model, data_spec, batch_size, horizon, seed)
        model.train()
        _check_loss(model, data_spec, batch_size, max(window, 2), seed)
    finally:
        model.train(was_training)


# ---------------------------------------------------------------------- the pieces


def _ok(cond: bool, msg: str) -> None:
    if not cond:
        raise AssertionError(PREFIX + msg)


def _same(a: Tensor, b: Tensor, what: str, exact: bool = True) -> None:
    _ok(a.shape == b.shape, f"{what}: shapes differ {tuple(a.shape)} vs {tuple(b.shape)}")
    same = torch.equal(a, b) if exact else torch.allclose(a, b, rtol=1e-4, atol=1e-5)
    diff = (a.float() - b.float()).abs().max().item() if a.numel() else 0.0
    _ok(same, f"{what} (max abs difference {diff:.3g})")


def _check_belief(model: nn.Module, belief: Belief, b: int, what: str) -> None:
    _ok(isinstance(belief, Belief), f"{what} must return a Belief, got {type(belief).__name__}")
    d = model.latent_dim
    _ok(
        belief.h.dim() == 2 and belief.h.shape[0] == b,
        f"{what}: h must be (B={b}, D_h), got {tuple(belief.h.shape)}",
    )
    _ok(
        tuple(belief.z.shape) == (b, d),
        f"{what}: z must be (B={b}, D={d}), got {tuple(belief.z.shape)}",
    )
    _ok(
        bool(torch.isfinite(belief.h).all() and torch.isfinite(belief.z).all()),
        f"{what}: non-finite belief",
    )


def _check_rollout(model: nn.Module, ro: Rollout, b: int, h: int) -> None:
    d = model.latent_dim
    _ok(isinstance(ro, Rollout), f"imagine must return a Rollout, got {type(ro).__name__}")
    _ok(
        tuple(ro.latents.shape) == (b, h, d),
        f"imagine: latents must be (B, H, D)={(b, h, d)}, got {tuple(ro.latents.shape)}",
    )
    _ok(bool(torch.isfinite(ro.latents).all()), "imagine: non-finite latents")
    if ro.disagreement is not None:
        dis = ro.disagreement
        _ok(
            tuple(dis.shape) == (b, h),
            f"imagine: disagreement must be (B, H)={(b, h)}, got {tuple(dis.shape)}",
        )
        _ok(
            bool(torch.isfinite(dis).all() and (dis >= 0).all()),
            "imagine: disagreement must be finite and >= 0",
        )


def _check_contract(model: nn.Module, spec: DataSpec, b: int, h: int, n: int, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    obs = [random_obs(spec, (b,), gen) for _ in range(4)]
    act = [random_actions(spec, (b,), gen) for _ in range(4)]
    yes, no = torch.ones(b, dtype=torch.bool), torch.zeros(b, dtype=torch.bool)

    b0 = model.initial(b)
    _check_belief(model, b0, b, "initial")
    b1 = model.observe(b0, obs[0], act[0], yes)
    _check_belief(model, b1, b, "observe")
    h1, z1 = b1.h.clone(), b1.z.clone()
    b2 = model.observe(b1, obs[1], act[1], no)
    _same(b1.h, h1, "observe must not modify the belief it is given")
    _ok(not torch.equal(b2.h, b1.h), "observe did not change the recurrent state h")
    _ok(not torch.equal(b2.z, z1), "observe did not change the latent z for a new observation")

    # Memory: the same observation after different histories gives different states.
    other = model.observe(model.observe(b0, obs[2], act[2], yes), obs[3], act[3], no)
    _ok(
        not torch.equal(
            model.observe(b2, obs[0], act[0], no).h, model.observe(other, obs[0], act[0], no).h
        ),
        "observe ignores the history: the same observation after different pasts gave the same h",
    )

    # is_first resets the memory and ignores the action.
    reset_a = model.observe(b2, obs[2], act[2], yes)
    reset_b = model.observe(model.initial(b), obs[2], act[3], yes)
    _same(reset_a.h, reset_b.h, "is_first must reset h (and ignore prev_action)")
    _same(reset_a.z, reset_b.z, "is_first must reset z")
    mixed = torch.arange(b) % 2 == 0
    bm = model.observe(b2, obs[2], act[2], mixed)
    carried = model.observe(b2, obs[2], act[2], no)
    _same(bm.h[mixed], reset_a.h[mixed], "rows with is_first must match a fresh start", exact=False)
    _same(
        bm.h[~mixed], carried.h[~mixed], "rows without is_first must keep their memory", exact=False
    )

    # Determinism.
    _same(model.observe(b1, obs[1], act[1], no).h, b2.h, "observe is not deterministic")
    actions = random_actions(spec, (b, h), gen)
    ro = model.imagine(b2, actions)
    _check_rollout(model, ro, b, h)
    _same(model.imagine(b2, actions).latents, ro.latents, "imagine is not deterministic")
    goal = model.encode_goal(obs[3])
    _ok(
        tuple(goal.shape) == (b, model.latent_dim),
        f"encode_goal must return (B, D), got {tuple(goal.shape)}",
    )
    _ok(bool(torch.isfinite(goal).all()), "encode_goal: non-finite latents")

    # N candidates in one call equal N calls with one candidate each.
    one = b2.index(0)
    cand = random_actions(spec, (n, h), gen)
    batched = model.imagine(one.expand(n), cand)
    _check_rollout(model, batched, n, h)
    for i in range(n):
        single = model.imagine(one, cand[i : i + 1])
        _same(
            batched.latents[i : i + 1],
            single.latents,
            f"imagine of candidate {i} differs batched vs alone",
            exact=False,
        )
        if batched.disagreement is not None:
            _same(
                batched.disagreement[i : i + 1],
                single.disagreement,
                "disagreement differs batched vs alone",
                exact=False,
            )


def _outputs(model: nn.Module, spec: DataSpec, b: int, h: int, seed: int) -> list[Tensor]:
    gen = torch.Generator().manual_seed(seed + 1)
    obs, act = random_obs(spec, (b,), gen), random_actions(spec, (b,), gen)
    bel = model.observe(model.initial(b), obs, act, torch.ones(b, dtype=torch.bool))
    bel = model.observe(
        bel,
        random_obs(spec, (b,), gen),
        random_actions(spec, (b,), gen),
        torch.zeros(b, dtype=torch.bool),
    )
    ro = model.imagine(bel, random_actions(spec, (b, h), gen))
    out = [bel.h, bel.z, ro.latents, model.encode_goal(obs)]
    return out + ([ro.disagreement] if ro.disagreement is not None else [])


def _check_save_load(model: nn.Module, spec: DataSpec, b: int, h: int, seed: int) -> None:
    before = _outputs(model, spec, b, h, seed)
    clone = copy.deepcopy(model)
    for p in clone.parameters():  # make sure the load, not the copy, restores the weights
        p.add_(1.0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "weights.safetensors"
        save_file({k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, str(path))
        clone.load_state_dict(load_file(str(path)))
    after = _outputs(clone, spec, b, h, seed)
    for i, (x, y) in enumerate(zip(before, after, strict=True)):
        _same(x, y, f"outputs differ after a safetensors save/load round trip (output {i})")


def _check_loss(model: nn.Module, spec: DataSpec, b: int, t: int, seed: int) -> None:
    batch = random_batch(spec, max(b, 2), t, torch.Generator().manual_seed(seed + 2))

    def run() -> tuple[Tensor, dict[str, Tensor]]:
        torch.manual_seed(seed)
        return model.loss(batch)

    state = copy.deepcopy(model.state_dict())  # loss may update running statistics
    loss, terms = run()
    _ok(isinstance(loss, Tensor) and loss.dim() == 0, "loss must return a scalar tensor first")
    _ok(bool(torch.isfinite(loss)), f"loss is not finite: {loss.item()}")
    _ok(isinstance(terms, dict) and bool(terms), "loss must return a non-empty dict of named terms")
    for name, v in terms.items():
        _ok(
            isinstance(name, str) and isinstance(v, Tensor) and v.dim() == 0,
            f"loss term '{name}' must be a scalar tensor",
        )
        _ok(not v.requires_grad, f"loss term '{name}' must be detached (it is for logging)")
        _ok(bool(torch.isfinite(v)), f"loss term '{name}' is not finite")
    model.zero_grad(set_to_none=True)
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    _ok(all(bool(torch.isfinite(g).all()) for g in grads.values()), "non-finite gradients")
    _ok(any(bool(g.abs().sum() > 0) for g in grads.values()), "the loss has no gradient")
    for part in ("encoder", "dynamics"):
        sub = getattr(model, part, None)
        if isinstance(sub, nn.Module) and any(True for _ in sub.parameters()):
            reached = any(
                p.grad is not None and bool(p.grad.abs().sum() > 0) for p in sub.parameters()
            )
            _ok(reached, f"no gradient reaches model.{part}")
    model.zero_grad(set_to_none=True)
    model.load_state_dict(state)
    _same(run()[0].detach(), loss.detach(), "loss is not deterministic under torch.manual_seed")
    model.load_state_dict(state)
