"""The networks of genpo's policies: the velocity (and epsilon) network v(x, s, t), the Gaussian
policy's mean network, and plain MLPs for critics and small heads.

Convention (genpopp.md): t = 0 is Gaussian noise, t = 1 is the action. Actions are flattened chunks
(H * d). No dropout and no batch-norm: the exact likelihood needs a deterministic, batch-independent
network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn


class SinusoidalTimeEmbedding(nn.Module):
    """t in [0, 1] -> [sin(w_k t), cos(w_k t)] with frequencies w_k geometric in [1, 1000]."""

    def __init__(self, dim: int):
        super().__init__()
        if dim % 2:
            raise ValueError(f"time embedding dim must be even, got {dim}")
        freqs = torch.exp(torch.linspace(0.0, math.log(1000.0), dim // 2))
        self.register_buffer("freqs", freqs)

    def forward(self, t: Tensor) -> Tensor:
        angles = t[:, None] * self.freqs.to(t.dtype)
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


class ResidualBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, h: Tensor) -> Tensor:
        return h + self.net(h)


class VelocityMLP(nn.Module):
    """Residual MLP on [x, obs, time embedding] -> velocity, all in the flattened action dimension."""

    def __init__(self, obs_dim: int, action_dim: int, hidden_dim: int = 256, num_blocks: int = 3, time_embed_dim: int = 32):
        super().__init__()
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.time_embedding = SinusoidalTimeEmbedding(time_embed_dim)
        self.input = nn.Linear(action_dim + obs_dim + time_embed_dim, hidden_dim)
        self.blocks = nn.Sequential(*[ResidualBlock(hidden_dim) for _ in range(num_blocks)])
        self.output = nn.Sequential(nn.LayerNorm(hidden_dim), nn.SiLU(), nn.Linear(hidden_dim, action_dim))

    def forward(self, x: Tensor, obs: Tensor, t: Tensor) -> Tensor:
        assert x.shape[-1] == self.action_dim and obs.shape[-1] == self.obs_dim, (x.shape, obs.shape)
        h = self.input(torch.cat([x, obs, self.time_embedding(t)], dim=-1))
        return self.output(self.blocks(h))


class GaussianMLP(nn.Module):
    """obs -> mean: the trunk of VelocityMLP without the x and t inputs (same width and depth)."""

    def __init__(self, obs_dim: int, action_dim: int, hidden_dim: int = 256, num_blocks: int = 3):
        super().__init__()
        self.input = nn.Linear(obs_dim, hidden_dim)
        self.blocks = nn.Sequential(*[ResidualBlock(hidden_dim) for _ in range(num_blocks)])
        self.output = nn.Sequential(nn.LayerNorm(hidden_dim), nn.SiLU(), nn.Linear(hidden_dim, action_dim))

    def forward(self, obs: Tensor) -> Tensor:
        return self.output(self.blocks(self.input(obs)))


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.Tanh) -> nn.Sequential:
    """Plain MLP (used by critics and small heads)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)
