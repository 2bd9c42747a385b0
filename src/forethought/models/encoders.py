"""Observation encoders: one small network per observation key, fused into one latent.

Vector keys go through a normalizing MLP; uint8 image keys (H, W, C) through a small CNN (scaled
by 1/255 inside). The per-key features are concatenated and fused by an MLP whose hidden layer is
standardized per feature with data statistics (:class:`RunningStandardize`; LeJEPA / LeWM put a
BatchNorm in their projectors for the same reason), then projected to the latent D by a plain
linear layer.

Why the batch statistics: in scenes that differ by a few pixels (a small dot on a fixed
background), a freshly initialized encoder maps every frame to almost the same latent (measured
on TwoRoom: std 0.005 across frames). SIGReg's gradient vanishes at such a near-point-mass (it is
proportional to the spread), and training stays collapsed; standardizing the hidden features by
their statistics over the data restores an O(1) spread from the first step. No normalization at
the output, so the anti-collapse term is free to shape the latent distribution.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from forethought.core.errors import ForethoughtError
from forethought.models.spec import ObsSpec

MAX_CNN_GRID = 8  # feature maps larger than this are average-pooled down before flattening
KEYPOINT_TEMPERATURE = 0.01
"""Initial softmax temperature of the keypoints (learned afterwards). Sharp from the start:
supervised regression of the TwoRoom agent's position through this encoder reached 3.8 px error
after 100 steps with it, 12.7 px with 0.05 and 16 px with temperature 1."""


def mlp(d_in: int, width: int, d_out: int) -> nn.Sequential:
    """Linear -> LayerNorm -> SiLU -> Linear."""
    return nn.Sequential(
        nn.Linear(d_in, width), nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, d_out)
    )


class RunningStandardize(nn.Module):
    """Per-feature standardization by running statistics, then a learned affine map.

    The statistics are updated (without gradient) only when asked, which the model does inside
    ``loss`` in training mode, and they are always what the features are divided by: encoding an
    observation is the same function in training and in ``observe`` (BatchNorm's batch statistics
    made the two differ by about 12% of the latent scale in our runs) and never depends on the rest
    of the batch. The first updates average all batches so far, later ones use ``momentum``.
    """

    def __init__(self, d: int, momentum: float = 0.05, eps: float = 1e-5) -> None:
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d))
        self.register_buffer("running_mean", torch.zeros(d))
        self.register_buffer("running_var", torch.ones(d))
        self.register_buffer("updates", torch.zeros(()))

    def forward(self, x: Tensor, update: bool = False) -> Tensor:
        if update and x.shape[0] > 1:
            with torch.no_grad():
                rate = max(self.momentum, 1.0 / (float(self.updates) + 1.0))
                self.running_mean.lerp_(x.mean(0), rate)
                self.running_var.lerp_(x.var(0), rate)
                self.updates += 1
        return (x - self.running_mean) * torch.rsqrt(
            self.running_var + self.eps
        ) * self.weight + self.bias


class VectorEncoder(nn.Module):
    """(B, *shape) numbers -> (B, width) features, normalized by the dataset's mean/std."""

    def __init__(self, spec: ObsSpec, width: int) -> None:
        super().__init__()
        n = spec.size
        mean = torch.tensor(spec.mean if spec.mean is not None else [0.0] * n, dtype=torch.float32)
        std = torch.tensor(spec.std if spec.std is not None else [1.0] * n, dtype=torch.float32)
        if mean.numel() != n or std.numel() != n:
            raise ForethoughtError(
                f"observation '{spec.key}': {n} entries but {mean.numel()} mean / {std.numel()} "
                "std statistics; rebuild the DataSpec from the dataset"
            )
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.net = mlp(n, width, width)
        self.out_dim = width

    def forward(self, x: Tensor) -> Tensor:
        x = x.reshape(x.shape[0], -1).float()  # (B, n)
        return self.net((x - self.mean) / self.std)  # (B, width)


class ImageEncoder(nn.Module):
    """(B, H, W, C) uint8 images -> (B, width) features with a small CNN."""

    def __init__(self, spec: ObsSpec, channels: tuple[int, ...], width: int) -> None:
        super().__init__()
        h, w, c = spec.shape
        layers: list[nn.Module] = []
        size = min(h, w)
        for out in channels:
            if size >= 8:  # k4 s2 p1 halves the size
                layers += [nn.Conv2d(c, out, 4, stride=2, padding=1), nn.SiLU()]
                size //= 2
            else:  # small images keep their resolution
                layers += [nn.Conv2d(c, out, 3, stride=1, padding=1), nn.SiLU()]
            c = out
        self.conv = nn.Sequential(*layers)
        with torch.no_grad():
            gh, gw = self.conv(torch.zeros(1, spec.shape[2], h, w)).shape[-2:]
        self.pool = nn.AdaptiveAvgPool2d((min(gh, MAX_CNN_GRID), min(gw, MAX_CNN_GRID)))
        flat = c * min(gh, MAX_CNN_GRID) * min(gw, MAX_CNN_GRID)
        self.out = nn.Sequential(nn.Linear(flat, width), nn.LayerNorm(width), nn.SiLU())
        self.out_dim = width

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 3, 1, 2).float() / 255.0  # (B, C, H, W) in [0, 1]
        return self.out(self.pool(self.conv(x)).flatten(1))  # (B, width)


class SpatialSoftmax(nn.Module):
    """(B, K, H, W) feature maps -> (B, 2K) expected (x, y) of each map's softmax, in [-1, 1].

    The keypoint layer of Levine et al. (2016) and robomimic's image encoders: each channel
    becomes the soft location of what it responds to, so positions of small objects reach the
    latent linearly and with sub-pixel precision, whatever the grid resolution.
    """

    def __init__(self, h: int, w: int) -> None:
        super().__init__()
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
        self.register_buffer(
            "grid", torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)
        )  # (HW, 2)
        self.log_temperature = nn.Parameter(torch.tensor(math.log(KEYPOINT_TEMPERATURE)))

    def forward(self, x: Tensor) -> Tensor:
        return self.locate(x / self.log_temperature.exp())

    def locate(self, logits: Tensor) -> Tensor:
        """Like ``forward`` on maps already divided by the temperature (see
        :meth:`KeypointImageEncoder.forward`). (B, K, H, W) -> (B, 2K)."""
        b, k = logits.shape[:2]
        attn = torch.softmax(logits.reshape(b, k, -1), dim=-1)  # (B, K, HW)
        return (attn @ self.grid).reshape(b, 2 * k)  # (B, 2K)

    def locate_with_spread(self, logits: Tensor) -> tuple[Tensor, Tensor]:
        """``locate``'s (B, 2K) keypoints and each softmax's spatial variance E|p - mean|^2
        around its keypoint, (B, K) (in squared [-1, 1] units: a map split between two places
        half the image apart has 0.25, one sharp peak nearly 0)."""
        b, k = logits.shape[:2]
        attn = torch.softmax(logits.reshape(b, k, -1), dim=-1)  # (B, K, HW)
        mean = attn @ self.grid  # (B, K, 2)
        second = attn @ self.grid.square().sum(-1)  # (B, K): E|p|^2
        return mean.reshape(b, 2 * k), second - mean.square().sum(-1)


class KeypointImageEncoder(nn.Module):
    """(B, H, W, C) uint8 images -> (B, 2K): strided convs down to a >= ``grid`` px map, keypoints.

    ``channels[:-1]`` are the conv widths and ``channels[-1]`` the number of keypoints K;
    ``kernel`` is the strided convs' kernel (the receptive field: what a keypoint can see). The
    keypoint coordinates go to the fusion layer as they are (an extra Linear-LayerNorm-SiLU here
    localized the TwoRoom agent worse: 7 px probe error after 700 JEPA steps against 5.4 px
    after 530 without it). Cheaper than :class:`ImageEncoder` on a CPU and much quicker to
    localize small objects (a dot of 1.3 px sigma on TwoRoom), which grounded prediction needs.
    """

    def __init__(
        self,
        spec: ObsSpec,
        channels: tuple[int, ...],
        width: int,
        grid: int = 16,
        kernel: int = 4,
    ) -> None:
        super().__init__()
        h, w, c = spec.shape
        layers: list[nn.Module] = []
        size = min(h, w)
        for out in channels[:-1] or (channels[0],):
            stride = 2 if size >= 2 * grid else 1
            k, pad = (kernel, (kernel - 1) // 2) if stride == 2 else (3, 1)
            layers += [nn.Conv2d(c, out, k, stride, padding=pad), nn.SiLU()]
            size, c = size // stride, out
        layers.append(nn.Conv2d(c, channels[-1], 1))
        self.conv = nn.Sequential(*layers)
        with torch.no_grad():
            gh, gw = self.conv(torch.zeros(1, spec.shape[2], h, w)).shape[-2:]
        self.keypoints = SpatialSoftmax(gh, gw)
        self.out_dim = 2 * channels[-1]

    def forward(self, x: Tensor) -> Tensor:
        return self.keypoints.locate(self._logits(x))  # (B, 2K)

    def locate(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(B, H, W, C) uint8 images -> (B, 2K) keypoints and their maps' (B, K) spatial
        variance (:meth:`SpatialSoftmax.locate_with_spread`)."""
        return self.keypoints.locate_with_spread(self._logits(x))

    def _logits(self, x: Tensor) -> Tensor:
        """(B, H, W, C) uint8 images -> (B, K, h, w) keypoint maps divided by the temperature."""
        x = x.permute(0, 3, 1, 2).float() / 255.0  # (B, C, H, W) in [0, 1]
        # The temperature divides the last 1x1 layer's weights rather than its K maps: the same
        # logits at a fraction of the cost (dividing the maps was a sixth of a training step).
        last = self.conv[-1]
        inv_t = torch.exp(-self.keypoints.log_temperature)
        return F.conv2d(self.conv[:-1](x), last.weight * inv_t, last.bias * inv_t)


class ObsEncoder(nn.Module):
    """A dict of observations -> (B, D) latents (one sub-encoder per key, fused linearly)."""

    def __init__(
        self,
        specs: tuple[ObsSpec, ...],
        latent_dim: int,
        width: int,
        channels: tuple[int, ...],
        image_encoder: str = "keypoints",
        keypoint_grid: int = 16,
        keypoint_kernel: int = 4,
    ) -> None:
        super().__init__()
        self.keys = tuple(s.key for s in specs)

        def image_net(s: ObsSpec) -> nn.Module:
            if image_encoder == "keypoints":
                return KeypointImageEncoder(s, channels, width, keypoint_grid, keypoint_kernel)
            return ImageEncoder(s, channels, width)

        self.nets = nn.ModuleDict(
            {
                _module_name(s.key): image_net(s) if s.is_image else VectorEncoder(s, width)
                for s in specs
            }
        )
        self.fuse_in = nn.Linear(sum(int(n.out_dim) for n in self.nets.values()), width)
        self.fuse_norm = RunningStandardize(width)
        self.fuse_out = nn.Linear(width, latent_dim)

    def forward(self, obs: dict[str, Tensor], update_stats: bool = False) -> Tensor:
        """Latents of (B, ...) observations; ``update_stats`` first folds this batch into the
        running feature statistics (training only)."""
        feats = []
        for k in self.keys:
            if k not in obs:
                raise ForethoughtError(
                    f"observation key '{k}' missing from the input; it has {sorted(obs)}"
                )
            feats.append(self.nets[_module_name(k)](obs[k]))  # (B, out_dim)
        x = self.fuse_in(torch.cat(feats, dim=-1))  # (B, width)
        return self.fuse_out(F.silu(self.fuse_norm(x, update_stats)))  # (B, D)


def _module_name(key: str) -> str:
    """Observation keys may hold '/' or '.', which module names may not."""
    return "k_" + key.replace("/", "__").replace(".", "_")
