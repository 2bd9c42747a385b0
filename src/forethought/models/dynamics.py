"""Recurrent latent dynamics for M ensemble members at once (M = 1 for a single predictor).

One step of member m::

    x      = SiLU(W_in [z, a])              z: (B, D) latent fed in, a: (B, A_in) action input
    h'     = GRU(x, h)                      h: (B, D_h)
    z_next = z + head(h')                   (residual; head(h') alone when residual=False)
             (+ W_a a with direct_action: a linear path from the action, zero at init)

Members have separate weights stacked along a leading M dimension and run in one batched matmul
per layer (no Python loop over members).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class BatchedLinear(nn.Module):
    """M independent linear layers: (M, B, I) -> (M, B, O)."""

    def __init__(self, members: int, d_in: int, d_out: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(d_in)  # nn.Linear's default init range
        self.weight = nn.Parameter(torch.empty(members, d_in, d_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, 1, d_out).uniform_(-bound, bound))

    def forward(self, x: Tensor) -> Tensor:
        return torch.baddbmm(self.bias, x, self.weight)  # (M, B, O)


class BatchedGRUCell(nn.Module):
    """M independent GRU cells (PyTorch's gate equations): (M, B, I), (M, B, H) -> (M, B, H)."""

    def __init__(self, members: int, d_in: int, d_h: int) -> None:
        super().__init__()
        self.d_h = d_h
        self.ih = BatchedLinear(members, d_in, 3 * d_h)
        self.hh = BatchedLinear(members, d_h, 3 * d_h)
        bound = 1.0 / math.sqrt(d_h)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: Tensor, h: Tensor) -> Tensor:
        gi_r, gi_z, gi_n = self.ih(x).chunk(3, dim=-1)  # 3 x (M, B, H)
        gh_r, gh_z, gh_n = self.hh(h).chunk(3, dim=-1)
        r = torch.sigmoid(gi_r + gh_r)
        u = torch.sigmoid(gi_z + gh_z)
        n = torch.tanh(gi_n + r * gh_n)
        return n + u * (h - n)  # (1 - u) * n + u * h


class LatentDynamics(nn.Module):
    """M recurrent predictors of the next latent from (latent, action, memory)."""

    def __init__(
        self,
        members: int,
        latent_dim: int,
        action_dim: int,
        hidden_dim: int,
        residual: bool,
        direct_action: bool = False,
    ) -> None:
        super().__init__()
        self.members = members
        self.hidden_dim = hidden_dim
        self.residual = residual
        self.direct = BatchedLinear(members, action_dim, latent_dim) if direct_action else None
        if self.direct is not None:
            nn.init.zeros_(self.direct.weight)
            nn.init.zeros_(self.direct.bias)
        self.inp = BatchedLinear(members, latent_dim + action_dim, hidden_dim)
        self.gru = BatchedGRUCell(members, hidden_dim, hidden_dim)
        self.head1 = BatchedLinear(members, hidden_dim, hidden_dim)
        self.head2 = BatchedLinear(members, hidden_dim, latent_dim)
        if residual:  # start near "nothing moves": small initial increments
            nn.init.uniform_(self.head2.weight, -1e-3, 1e-3)
            nn.init.zeros_(self.head2.bias)

    def step(self, z: Tensor, a: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        """One step for every member.

        Args:
            z: (M, B, D) or (B, D) latent fed in (shared across members when 2-D).
            a: (B, A_in) action input (already encoded).
            h: (M, B, D_h) memory.

        Returns:
            (h_next (M, B, D_h), z_next (M, B, D)).
        """
        m, b = h.shape[0], h.shape[1]
        z = z.expand(m, b, -1) if z.dim() == 2 else z
        x = torch.cat([z, a.expand(m, b, -1)], dim=-1)  # (M, B, D + A_in)
        x = F.silu(self.inp(x))  # (M, B, D_h)
        h = self.gru(x, h)
        dz = self.head2(F.silu(self.head1(h)))  # (M, B, D)
        if self.direct is not None:  # a linear path from the action to the increment
            dz = dz + self.direct(a.expand(m, b, -1))
        return h, (z + dz if self.residual else dz)

    # Beliefs store members' memories side by side: (B, M * D_h) <-> (M, B, D_h).
    def split(self, h: Tensor) -> Tensor:
        return h.reshape(h.shape[0], self.members, self.hidden_dim).transpose(0, 1)

    def join(self, h: Tensor) -> Tensor:
        return h.transpose(0, 1).reshape(h.shape[1], self.members * self.hidden_dim)


class InverseDynamics(nn.Module):
    """(z_t, z_{t+1}) -> the action between them (PLDM's auxiliary anti-collapse head)."""

    def __init__(self, latent_dim: int, width: int, action_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2 * latent_dim, width), nn.SiLU(), nn.Linear(width, action_dim)
        )

    def forward(self, z: Tensor, z_next: Tensor) -> Tensor:
        return self.net(torch.cat([z, z_next], dim=-1))  # (..., A_in)


def inverse_dynamics_error(pred: Tensor, action: Tensor, a: Tensor, discrete: bool) -> Tensor:
    """Per-step error of predicted actions into rows 1..T-1 of a window. (B, T-1).

    Args:
        pred: (B, T-1, A_in) predicted actions (logits when ``discrete``).
        action: (B, T) indices (discrete) or the raw actions; a: (B, T, A_in) encoded actions.
    """
    if discrete:
        n = pred.shape[-1]
        return F.cross_entropy(
            pred.reshape(-1, n), action[:, 1:].reshape(-1).long(), reduction="none"
        ).reshape(pred.shape[:2])
    return (pred - a[:, 1:]).square().mean(-1)
