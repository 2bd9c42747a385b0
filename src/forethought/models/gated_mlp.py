"""The gated MLP predictor of ``obs-mlp`` and ``keypoint-mlp`` (:class:`GatedMLPDynamics`).

One step of member m, with h_t = [z_{t-1}, a_t] (a one-step memory: the previous latent and the
action that led to z_t, zeros at an episode start)::

    x      = MLP([z_t, h_t, a_{t+1}])                               hidden features, (B, W)
    z_next = z_t + sigmoid(G_h x) * head(x) + W_g (sigmoid(G x) * a_{t+1})
                                          (the last term with gated_action, the default)

The gated path moves the latent by a linear map of the action (W_g, refit from the data's free
moves: :meth:`GatedMLPDynamics.fit_action_map`), scaled per action entry by a gate in [0, 1]
that the state can close. The world models around it are in ``obs_mlp.py`` and
``keypoint_mlp.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from forethought.core.errors import ForethoughtError
from forethought.models.config import check_gate_floor
from forethought.models.dynamics import BatchedLinear
from forethought.models.windows import WindowMasks, masked_mean

GATE_OPEN_LOGIT = 3.0
"""Initial gate logit: sigmoid(3) = 0.95, nearly open."""
INLIER_TOLERANCES = (0.5, 0.2, 0.1, 0.05, 0.02, 0.01)
"""Per refit of the action map: keep the steps that moved at least 1 - tol as far as it says."""
MIN_INLIER_SHARE = 0.05
"""A refit needs at least this share of the steps (else the last fit stays)."""
MOVED_DIM_SHARE = 0.1
"""``per_dim`` fit: a step's moved share is read on the dims the map moves by at least this
share of its largest predicted move in that step (the others only add noise)."""
TRIM_RESIDUALS = 5.0
"""``per_dim`` fit: each dim of the map is refit without the steps whose residual on it is
above this many times its median."""

# (M, B, D) latent and the increment the predictor imagines from it -> the increment to take.
StepFilter = Callable[[Tensor, Tensor], Tensor]


class GatedMLPSizes(Protocol):
    """What :class:`GatedMLPDynamics` reads of a model config."""

    @property
    def members(self) -> int: ...
    @property
    def width(self) -> int: ...
    @property
    def layers(self) -> int: ...
    @property
    def gated_action(self) -> bool: ...
    @property
    def context(self) -> int: ...
    @property
    def residual_weight(self) -> float: ...
    @property
    def gate_floor(self) -> float: ...
    @property
    def action_map_fit(self) -> str: ...
    @property
    def gate_per(self) -> str: ...


@dataclass(frozen=True)
class PredictionErrors:
    """The training terms of a window (scalars).

    Attributes:
        one_step: mean squared teacher-forced one-step error.
        open_loop: mean squared error of the open-loop rollout.
        residual: mean square of the MLP head's one-step increments. Penalized
            (``residual_weight``), it pushes blocked moves onto the gate: a head that cancels an
            open gate's push at a wall leaks a little each step, and long rollouts walk through
            the wall (TwoRoom: docs/models.md).
    """

    one_step: Tensor
    open_loop: Tensor
    residual: Tensor


def _advance(z: Tensor, free: Tensor, gated: Tensor | None) -> Tensor:
    """The next latent from z and the increments of :meth:`GatedMLPDynamics.increments`."""
    return z + free if gated is None else z + free + gated


class GatedMLPDynamics(nn.Module):
    """M members of z + g_h * head(x) (+ W_g (sigmoid(G x) * a)), x = MLP([z, h, a]).

    With ``gate_per="latent"`` the gated path is sigmoid(G x) * (W_g a): one gate per latent dim
    instead of one per action dim.
    """

    def __init__(self, config: GatedMLPSizes, latent_dim: int, action_dim: int) -> None:
        super().__init__()
        m, w = config.members, config.width
        d_in = 2 * latent_dim + 2 * action_dim  # z, h = [z_prev, a_prev], a
        self.layers = nn.ModuleList(
            [BatchedLinear(m, d_in if i == 0 else w, w) for i in range(config.layers)]
        )
        self.head = BatchedLinear(m, w, 2 * latent_dim)  # increment and its gate logits
        nn.init.uniform_(self.head.weight, -1e-3, 1e-3)  # start near "nothing moves"
        nn.init.zeros_(self.head.bias)
        self.members = m
        self.gate_floor = config.gate_floor
        self.per_dim_fit = config.action_map_fit == "per_dim"
        self.gate_per_latent = config.gate_per == "latent"
        gates = latent_dim if self.gate_per_latent else action_dim
        self.gate = BatchedLinear(m, w, gates) if config.gated_action else None
        self.gated = BatchedLinear(m, action_dim, latent_dim) if config.gated_action else None
        if self.gate is not None and self.gated is not None:
            nn.init.constant_(self.gate.bias, GATE_OPEN_LOGIT)  # start open: moves go through
            nn.init.zeros_(self.gated.bias)
        # Whether the gated map was set from data yet (see ``fit_action_map``).
        self.register_buffer("action_map_fitted", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def fit_action_map(self, dz: Tensor, a: Tensor) -> None:
        """Set W_g to the least-squares response of the latent to the action: dz ~ a W.

        Learned from a random start, W_g and the gate get stuck: with a wrong sign the best move
        is none, the gate closes and its sigmoid saturates (a 2x2 W learned jointly with the gate
        fit TwoRoom 30x worse than the known map in a scratch test). Starting from the data's own
        average response, the gate only has to learn where moves are blocked.

        Args:
            dz: (N, D) latent changes; a: (N, A) the actions that caused them.
        """
        if self.gated is None or a.shape[0] < a.shape[1]:
            return
        a, dz = a.double(), dz.double()
        w = _least_squares(a, dz)  # (A, D)
        # Blocked steps shrink the average response, and so do steps an env shortens (TwoRoom
        # caps the step length; the action box's corners ask for more). Both only ever move
        # less than asked, so refit on the steps that moved nearly as far as the map predicts,
        # ever more tightly: W climbs to the full, free response and an open gate (1) means a
        # free move. (Noise in the steps biases W up, which the gate, at most 1, can undo.)
        # With ``action_map_fit="per_dim"`` the moved share is a median over dims and each dim
        # is refit without its outliers (see :func:`per_dim_moved_share`).
        least = max(a.shape[1], int(MIN_INLIER_SHARE * a.shape[0]))
        share, refit = (
            (per_dim_moved_share, _trimmed_least_squares)
            if self.per_dim_fit
            else (pooled_moved_share, _least_squares)
        )
        for tol in INLIER_TOLERANCES:
            keep = share(dz, a @ w) >= 1.0 - tol  # (N,)
            if int(keep.sum()) < least:
                break
            w = refit(a[keep], dz[keep])
        self.gated.weight.copy_(w.to(self.gated.weight)[None].expand_as(self.gated.weight))
        self.action_map_fitted.fill_(True)

    def features(self, z: Tensor, h: Tensor, a: Tensor) -> Tensor:
        """The MLP's hidden features x. (M, B, W) from (M, B, D) z, (M, B, D + A) h, (M, B, A) a."""
        x = torch.cat([z, h, a], -1)  # (M, B, d_in)
        for layer in self.layers:
            x = F.silu(layer(x))  # (M, B, W)
        return x

    def increments(self, z: Tensor, h: Tensor, a: Tensor) -> tuple[Tensor, Tensor | None]:
        """The MLP head's increment and the gated action's (None without the gated path), each
        (M, B, D), from (M, B, D) z, (M, B, D + A) h and (M, B, A) a."""
        x = self.features(z, h, a)
        dz, logit = self.head(x).chunk(2, -1)
        free = dz * torch.sigmoid(logit)
        if self.gate is None or self.gated is None:
            return free, None
        g = self._gates_at(x)  # (M, B, A), or (M, B, D) per latent dim
        if self.gate_per_latent:
            return free, g * torch.bmm(a, self.gated.weight) + self.gated.bias
        return free, self.gated(g * a)

    def gates(self, z: Tensor, h: Tensor, a: Tensor) -> Tensor:
        """The gated path's gates as ``increments`` applies them (``gate_floor`` included), for a
        model with the gated path: (M, B, A), or (M, B, D) with ``gate_per="latent"``, from
        (M, B, D) z, (M, B, D + A) h and (M, B, A) a."""
        assert self.gate is not None, "gates() of a predictor without the gated action path"
        return self._gates_at(self.features(z, h, a))

    def _gates_at(self, x: Tensor) -> Tensor:
        """The gates (floor included) from the MLP's hidden features x (M, B, W)."""
        assert self.gate is not None
        return self.open_gates(torch.sigmoid(self.gate(x)))

    def open_gates(self, g: Tensor) -> Tensor:
        """Gates g in [0, 1] with those below ``gate_floor`` closed (0), in eval mode only.

        A squared error makes a gate the probability of passing wherever the latent leaves a
        wall's place uncertain; a long rollout then creeps through at that rate (TwoRoom's
        door edge, docs/benchmarks.md). In imagination a gate below the floor stops the move
        outright; training sees the gates as they are.
        """
        if self.gate_floor <= 0 or self.training:
            return g
        return g * (g >= self.gate_floor).to(g.dtype)

    def forward(self, z: Tensor, h: Tensor, a: Tensor) -> Tensor:
        """Each member on its own inputs: (M, B, D) z, (M, B, D + A) h, (M, B, A) a -> (M, B, D)."""
        return _advance(z, *self.increments(z, h, a))

    def rollout(
        self,
        z: Tensor,
        h: Tensor,
        a: Tensor,
        step: StepFilter | None = None,
        bound: Tensor | None = None,
    ) -> Tensor:
        """Members' open-loop latents from (B, D) z, (B, D + A) h, (B, H, A) a. (M, B, H, D).

        ``step``: (z, increment) -> the increment to take instead, both (M, B, D), applied to
        every imagined step (the planner's blocked-move memory, ``planning/memory.py``).
        ``bound``: (D,) each imagined latent is clamped to [-bound, bound] after every step
        (the range the encoder can produce; inf where it has none)."""
        m, low = self.members, None if bound is None else -bound
        zm, hm, preds = z.expand(m, *z.shape), h.expand(m, *h.shape), []
        for k in range(a.shape[1]):
            ak = a[:, k].expand(m, *a[:, k].shape)  # (M, B, A)
            free, gated = self.increments(zm, hm, ak)  # (M, B, D) each
            if step is None:
                z_next = _advance(zm, free, gated)
            else:
                z_next = zm + step(zm, free if gated is None else free + gated)
            if bound is not None:
                z_next = torch.clamp(z_next, low, bound)
            hm, zm = torch.cat([zm, ak], -1), z_next
            preds.append(zm)
        return torch.stack(preds, 2)

    def prediction_losses(
        self,
        z: Tensor,
        a: Tensor,
        masks: WindowMasks,
        context: int,
        target: Tensor | None = None,
    ) -> PredictionErrors:
        """Mean squared one-step (teacher-forced) and open-loop errors of a window, and the
        mean square of the head's one-step increments (see :class:`PredictionErrors`).

        Args:
            z: (B, T, D) latents of the window's rows; a: (B, T, A) the actions into them.
            masks: the window's masks for ``context`` observed rows before the open loop.
            target: (B, T, D) what the predictions are scored against (default ``z``; a learned
                encoder passes ``z.detach()`` so that the error cannot shrink by moving targets).
        """
        target = z if target is None else target
        b, t, k, m = z.shape[0], z.shape[1], context, self.members
        keep = masks.keep  # (B, T)
        if self.training and not bool(self.action_map_fitted):
            rows = keep[:, 1:].bool()  # (B, T-1) steps inside an episode
            self.fit_action_map((z[:, 1:] - z[:, :-1])[rows].detach(), a[:, 1:][rows])

        # One step: z_{i-1}, h = [z_{i-2}, a_{i-1}] (zero after a start), a_i -> z_i.
        prev_z = torch.cat([torch.zeros_like(z[:, :1]), z[:, :-2]], 1)  # (B, T-1, D)
        mem = torch.cat([prev_z, a[:, :-1]], -1) * keep[:, :-1, None]  # (B, T-1, D + A)

        def members(x: Tensor) -> Tensor:  # (B, T-1, F) -> (M, B * (T-1), F)
            return x.reshape(1, -1, x.shape[-1]).expand(m, -1, -1)

        z_in = members(z[:, :-1])
        free, gated = self.increments(z_in, members(mem), members(a[:, 1:]))
        pred = _advance(z_in, free, gated).reshape(m, b, t - 1, -1)  # (M, B, T-1, D)
        err1 = (pred - target[None, :, 1:]).square().mean(-1)  # (M, B, T-1)
        loss_one = masked_mean(err1, keep[None, :, 1:])
        residual = masked_mean(free.reshape(m, b, t - 1, -1).square().mean(-1), keep[None, :, 1:])

        # Open loop from row K-1 (its memory: row K-2 and the action into K-1).
        if k >= 2:
            h0 = torch.cat([z[:, k - 2], a[:, k - 1]], -1) * keep[:, k - 1, None]
        else:
            h0 = torch.zeros(b, z.shape[-1] + a.shape[-1], device=z.device)
        zs = self.rollout(z[:, k - 1], h0, a[:, k:])  # (M, B, T-K, D)
        err_ol = (zs - target[None, :, k:]).square().mean(-1)
        return PredictionErrors(loss_one, masked_mean(err_ol, masks.open_loop[None]), residual)


def pooled_moved_share(dz: Tensor, pred: Tensor) -> Tensor:
    """How far each step moved as a share of the map's prediction, pooled over the dims
    (dz . pred / |pred|^2). (N,) from (N, D) changes and predicted changes."""
    return (dz * pred).sum(-1) / pred.square().sum(-1).clamp_min(1e-12)


def per_dim_moved_share(dz: Tensor, pred: Tensor) -> Tensor:
    """How far each step moved as a share of the map's prediction: the median over the dims the
    map moves (see :data:`MOVED_DIM_SHARE`) of dz / pred; NaN where it predicts no move. (N,).

    A pooled ratio is led by the dims with the largest response: a learned keypoint that now
    and then jumps between two places picks the steps it jumped on, each refit raises its
    response, and in one TwoRoom pixel run it ended 5x its average; the gate, shared by all
    dims, closed to 0.05 in free space to undo it, and the MLP head carried the agent's moves.
    Read per dim, that run's fit came out right, but two runs trained with it planned worse
    (docs/benchmarks.md, "The action map a jumping keypoint inflated").

    Args:
        dz: (N, D) latent changes; pred: (N, D) the map's predicted changes.
    """
    size = pred.abs()  # (N, D)
    used = size >= MOVED_DIM_SHARE * size.amax(-1, keepdim=True).clamp_min(1e-12)
    ratio = torch.where(used, dz / pred.where(used, torch.ones_like(pred)), torch.nan)
    return ratio.nanmedian(-1).values  # (N,)


def _trimmed_least_squares(x: Tensor, y: Tensor) -> Tensor:
    """Least squares, then each output dim refit without the rows whose residual on it is above
    :data:`TRIM_RESIDUALS` times its median. (N, A), (N, D) -> (A, D)."""
    w = _least_squares(x, y)
    resid = (y - x @ w).abs()  # (N, D)
    bound = TRIM_RESIDUALS * resid.median(0).values + 1e-9 * y.abs().mean(0) + 1e-30  # (D,)
    keep = (resid <= bound).to(x.dtype)  # (N, D)
    gram = torch.einsum("nd,na,nb->dab", keep, x, x)  # (D, A, A)
    ridge = 1e-6 * gram.diagonal(dim1=-2, dim2=-1).mean(-1).clamp_min(1e-12)  # (D,)
    eye = torch.eye(x.shape[1], dtype=x.dtype)
    rhs = torch.einsum("nd,na->da", keep * y, x)  # (D, A)
    return torch.linalg.solve(gram + ridge[:, None, None] * eye, rhs[..., None])[..., 0].T


def _least_squares(x: Tensor, y: Tensor) -> Tensor:
    """argmin_w |x w - y|^2 with a tiny ridge (unseen discrete actions get 0). (N, A), (N, D)."""
    gram = x.T @ x  # (A, A)
    ridge = 1e-6 * gram.diagonal().mean().clamp_min(1e-12)
    return torch.linalg.solve(gram + ridge * torch.eye(x.shape[1], dtype=x.dtype), x.T @ y)


def set_gate_floor(model: nn.Module, floor: float) -> int:
    """Set ``gate_floor`` on every gated predictor in ``model`` (a trained run's, e.g. to
    compare the same weights with and without it; training ignores the floor, so this is what
    training with ``--set gate_floor=F`` gives). Returns how many predictors were set.

    Raises:
        ForethoughtError: a floor outside [0, 1), or a model without a gated action path.
    """
    floor = check_gate_floor(floor, "set_gate_floor")
    gated = [m for m in model.modules() if isinstance(m, GatedMLPDynamics) and m.gate is not None]
    if not gated:
        raise ForethoughtError(
            f"{type(model).__name__} has no gated action path; a gate floor applies to "
            "obs-mlp and keypoint-mlp models trained with gated_action=true"
        )
    for m in gated:
        m.gate_floor = floor
    return len(gated)
