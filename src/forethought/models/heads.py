"""Heads fit after the fact on frozen latents: probes, an image decoder, reward/termination heads.

They take latents (any ``(..., D)`` tensor), never the model, so they work for every world model:
encode real observations with ``model.encode_goal``, fit a head, then apply it to imagined latents
(``Rollout.latents``) to read predictions in the world's units or as pictures.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from forethought.core.errors import ForethoughtError


class _Standardize(nn.Module):
    """Fixed per-feature affine map fit on data: (x - mean) / std and back."""

    def __init__(self, x: Tensor) -> None:
        super().__init__()
        x = x.reshape(-1, x.shape[-1]).float()
        self.register_buffer("mean", x.mean(0))
        self.register_buffer(
            "std", x.std(0).clamp_min(1e-6) if x.shape[0] > 1 else torch.ones_like(x[0])
        )

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std

    def inverse(self, y: Tensor) -> Tensor:
        return y * self.std + self.mean


class LinearProbe(nn.Module):
    """latents (..., D) -> targets (..., K), an affine map."""

    def __init__(self, weight: Tensor, bias: Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight.float(), requires_grad=False)  # (D, K)
        self.bias = nn.Parameter(bias.float(), requires_grad=False)  # (K,)

    def forward(self, z: Tensor) -> Tensor:
        return z @ self.weight + self.bias


def fit_linear_probe(latents: Tensor, targets: Tensor, l2: float = 1e-6) -> LinearProbe:
    """Closed-form ridge regression (the bias is not penalized), solved in float64.

    Args:
        latents: (N, D) or (..., D) latents.
        targets: (N, K) or matching (..., K) targets.
        l2: ridge penalty relative to the mean squared latent entry.
    """
    x = latents.reshape(-1, latents.shape[-1]).double()
    y = targets.reshape(x.shape[0], -1).double()
    xm, ym = x.mean(0), y.mean(0)
    xc, yc = x - xm, y - ym
    gram = xc.T @ xc
    lam = l2 * gram.diagonal().mean().clamp_min(1e-12)
    w = torch.linalg.solve(gram + lam * torch.eye(x.shape[1], dtype=x.dtype), xc.T @ yc)  # (D, K)
    return LinearProbe(w, ym - xm @ w)


class MLPHead(nn.Module):
    """latents (..., D) -> (..., K): standardized inputs, one hidden layer, de-standardized outputs.

    For ``loss="bce"`` heads the output is a logit (apply ``torch.sigmoid`` for a probability).
    """

    def __init__(
        self, latents: Tensor, targets: Tensor, width: int = 256, regress: bool = True
    ) -> None:
        super().__init__()
        d, k = latents.shape[-1], targets.shape[-1]
        self.inp = _Standardize(latents)
        self.out = _Standardize(targets) if regress else None
        self.net = nn.Sequential(
            nn.Linear(d, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, k)
        )

    def raw(self, z: Tensor) -> Tensor:
        return self.net(self.inp(z))

    def forward(self, z: Tensor) -> Tensor:
        y = self.raw(z)
        return self.out.inverse(y) if self.out is not None else y


def fit_mlp_head(
    latents: Tensor,
    targets: Tensor,
    loss: str = "mse",
    steps: int = 500,
    lr: float = 3e-3,
    batch_size: int = 512,
    width: int = 256,
    seed: int = 0,
) -> MLPHead:
    """Fit a small MLP with Adam on frozen latents.

    Args:
        latents: (N, D) latents (detached).
        targets: (N, K) float targets; 0/1 labels for ``loss="bce"``.
        loss: ``"mse"`` (regression; targets standardized inside) or ``"bce"`` (binary logits).
        steps: Adam steps on random minibatches.
    """
    if loss not in ("mse", "bce"):
        raise ValueError(f"loss must be 'mse' or 'bce', got {loss!r}")
    x = latents.reshape(-1, latents.shape[-1]).detach().float()
    y = targets.reshape(x.shape[0], -1).detach().float()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = MLPHead(x, y, width, regress=loss == "mse")
    y_fit = head.out(y) if head.out is not None else y
    crit = F.mse_loss if loss == "mse" else F.binary_cross_entropy_with_logits
    _adam(
        head,
        lambda idx: crit(head.raw(x[idx]), y_fit[idx]),
        x.shape[0],
        steps,
        lr,
        batch_size,
        seed,
    )
    return head.eval()


def _adam(
    module: nn.Module, loss_fn, n: int, steps: int, lr: float, batch_size: int, seed: int
) -> None:
    """Adam with a cosine schedule on random minibatches of row indices (grad on, even if off)."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
    with torch.enable_grad():  # callers often hold latents under no_grad
        for _ in range(steps):
            err = loss_fn(torch.randint(0, n, (min(batch_size, n),), generator=gen))
            opt.zero_grad(set_to_none=True)
            err.backward()
            opt.step()
            sched.step()


def fit_probe(latents: Tensor, targets: Tensor, kind: str = "mlp", **kwargs) -> nn.Module:
    """A probe latent -> true state: ``kind="linear"`` (ridge) or ``"mlp"`` (Adam)."""
    if kind == "linear":
        return fit_linear_probe(latents, targets, **kwargs)
    if kind == "mlp":
        return fit_mlp_head(latents, targets, loss="mse", **kwargs)
    raise ForethoughtError(f"probe kind must be 'linear' or 'mlp', got {kind!r}")


def fit_reward_head(latents: Tensor, rewards: Tensor, **kwargs) -> MLPHead:
    """latent of obs_t -> reward received on arriving at it. ``rewards``: (N,) or (N, 1)."""
    return fit_mlp_head(latents, rewards.reshape(-1, 1), loss="mse", **kwargs)


def fit_termination_head(latents: Tensor, terminated: Tensor, **kwargs) -> MLPHead:
    """latent -> termination logit. ``terminated``: (N,) bool/0-1."""
    return fit_mlp_head(latents, terminated.reshape(-1, 1).float(), loss="bce", **kwargs)


class ImageDecoder(nn.Module):
    """latents (..., D) -> images (..., H, W, C) in [0, 1] with a small transposed CNN."""

    def __init__(
        self, latent_dim: int, image_shape: tuple[int, int, int], channels: int = 32
    ) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        h, w, c = self.image_shape
        ups = max(0, min(4, int(math.log2(max(min(h, w), 1))) - 2))  # x2 upsamplings
        self.h0, self.w0 = math.ceil(h / 2**ups), math.ceil(w / 2**ups)
        self.c0 = channels
        self.fc = nn.Sequential(nn.Linear(latent_dim, channels * self.h0 * self.w0), nn.SiLU())
        layers: list[nn.Module] = []
        for _ in range(ups):
            layers += [nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1), nn.SiLU()]
        layers.append(nn.Conv2d(channels, c, 3, padding=1))
        self.deconv = nn.Sequential(*layers)

    def logits(self, z: Tensor) -> Tensor:
        lead = z.shape[:-1]
        x = self.fc(z.reshape(-1, z.shape[-1])).reshape(-1, self.c0, self.h0, self.w0)
        x = self.deconv(x)  # (N, C, >= H, >= W)
        h, w, c = self.image_shape
        x = x[:, :, :h, :w].permute(0, 2, 3, 1)  # (N, H, W, C)
        return x.reshape(*lead, h, w, c)

    def forward(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.logits(z))

    def to_uint8(self, z: Tensor) -> Tensor:
        """Decoded images as uint8 (..., H, W, C) for videos and reports."""
        return (self.forward(z) * 255.0).round().clamp(0, 255).to(torch.uint8)


def fit_image_decoder(
    latents: Tensor,
    images: Tensor,
    steps: int = 500,
    lr: float = 2e-3,
    batch_size: int = 64,
    channels: int = 32,
    seed: int = 0,
) -> ImageDecoder:
    """Fit an :class:`ImageDecoder` on frozen latents. ``images``: (N, H, W, C) uint8."""
    x = latents.reshape(-1, latents.shape[-1]).detach().float()
    imgs = images.reshape(x.shape[0], *images.shape[-3:])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        dec = ImageDecoder(x.shape[-1], tuple(imgs.shape[-3:]), channels)

    def loss_fn(idx: Tensor) -> Tensor:
        target = imgs[idx].float() / 255.0
        return F.binary_cross_entropy_with_logits(dec.logits(x[idx]), target)

    _adam(dec, loss_fn, x.shape[0], steps, lr, batch_size, seed)
    return dec.eval()
