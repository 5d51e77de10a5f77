"""The interface every sampler implements: pure tensor math, batched, no envs, no files.

A sampler turns a standard-normal latent ``z`` into an action (the flattened chunk, in the policy's
normalised action space) by integrating a velocity field ``v(x, t)`` over a time grid
``0 = t_0 < ... < t_N = 1`` (t = 0 noise, t = 1 action). The observation is bound into the velocity
callable by the caller, so samplers never see observations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import Tensor

VelocityFn = Callable[[Tensor, Tensor], Tensor]
"""v(x, t): x (B, D) and t (B,) -> velocity (B, D)."""


@dataclass
class SampleOutput:
    """What a sampler returns for a batch of B samples in dimension D."""

    action: Tensor  # (B, D): the executed action x_N (normalised units, before post-processing)
    stored: Tensor  # what a rollout buffer keeps to re-evaluate the log-prob later
    latent: Tensor  # the base sample z that produced it
    log_prob: Tensor | None  # (B,) exact log-density of `stored`, None for deterministic samplers


def time_grid(num_steps: int, grid: Sequence[float] | None = None, *, dtype=torch.float32) -> Tensor:
    """Uniform grid on [0, 1] with ``num_steps`` steps, or a user grid (validated)."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    if grid is None:
        return torch.linspace(0.0, 1.0, num_steps + 1, dtype=dtype)
    t = torch.as_tensor(list(grid), dtype=dtype)
    if t.ndim != 1 or t.numel() != num_steps + 1:
        raise ValueError(f"time grid needs num_steps + 1 = {num_steps + 1} points, got {t.numel()}")
    if not torch.all(t[1:] > t[:-1]) or t[0] < 0 or t[-1] > 1:
        raise ValueError(f"time grid must increase strictly inside [0, 1], got {t.tolist()}")
    return t


def broadcast_time(t: Tensor, x: Tensor) -> Tensor:
    """A scalar time as a (B,) tensor matching x's batch, dtype and device."""
    return t.to(dtype=x.dtype, device=x.device).expand(x.shape[0])


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I) summed over every dimension but the batch one."""
    flat = z.reshape(z.shape[0], -1)
    return -0.5 * (flat.pow(2).sum(-1) + flat.shape[-1] * torch.log(torch.tensor(2 * torch.pi, dtype=z.dtype)))
