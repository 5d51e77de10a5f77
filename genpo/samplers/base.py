"""The interface every sampler implements: pure tensor math, batched, no envs, no files.

A sampler turns a standard-normal latent ``z`` into an action (the flattened chunk, in the policy's
normalised action space) by running a network along a chain of steps: the flow samplers integrate a
velocity field ``v(x, t)`` over a time grid ``0 = t_0 < ... < t_N = 1`` (t = 0 noise, t = 1 action),
the denoising sampler applies an epsilon network ``eps(x, i)`` at chain step i. The observation is
bound into that callable by the policy, so samplers never see observations.

    sampler.latent_shape(B, D)                       -> shape of z (a standard normal)
    sampler.parameters(D, device)                    -> {name: nn.Parameter} the sampler adds to its policy
    out = sampler.sample(network, z, **params)       -> SampleOutput (action, stored, latent, log_prob)
    sampler.log_prob(network, out.stored, **params)  == out.log_prob (to round-off), differentiable
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

VelocityFn = Callable[[Tensor, Tensor], Tensor]
"""v(x, t): x (B, D) and t (B,) -> velocity (B, D)."""


LOG_2PI = math.log(2 * math.pi)


@dataclass
class SampleOutput:
    """What a sampler returns for a batch of B samples in dimension D."""

    action: Tensor  # (B, D): the executed action x_N (normalised units, before post-processing)
    stored: Tensor  # what a rollout buffer keeps to re-evaluate the log-prob later
    latent: Tensor  # the base sample z that produced it
    log_prob: Tensor | None  # exact log-density of `stored`: (B,), or per transition and entry (B, m, D)
    # for the denoising chain; None for deterministic samplers


class Sampler(ABC):
    """Base of every sampler. Subclasses set `num_steps` (network evaluations per sample) and implement
    `latent_shape` and `sample`; samplers with a density also implement `log_prob`."""

    num_steps: int

    def latent_scale(self) -> float | Tensor:
        """Std of the latent, broadcast over latent_shape (a policy draws z = latent_scale * N(0, I)); 1: standard."""
        return 1.0

    @abstractmethod
    def latent_shape(self, batch: int, dim: int) -> tuple[int, ...]:
        """Shape of the standard-normal latent for `batch` samples of dimension `dim`."""

    @abstractmethod
    def sample(self, network: Callable, latent: Tensor, **params) -> SampleOutput:
        """Map the latent to an action; `stored` is what a rollout buffer keeps for `log_prob`."""

    def log_prob(self, network: Callable, stored: Tensor, **params) -> Tensor:
        """Exact log-density of a stored sample (differentiable in the network and the params)."""
        raise TypeError(f"{type(self).__name__} is deterministic: it has no log-prob; use the reversible sampler")

    def parameters(self, dim: int, device: torch.device | str) -> dict[str, nn.Parameter]:
        """Learnable parameters this sampler adds to its policy (passed back as **params); none by default."""
        return {}


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


def normal_log_density(x: Tensor, mean: Tensor | float, std: Tensor | float) -> Tensor:
    """log N(x; mean, std^2) per entry (no reduction): the one Gaussian log-density of the project."""
    std = torch.as_tensor(std, dtype=x.dtype, device=x.device)
    return -(0.5 * ((x - mean) / std).pow(2) + std.log() + 0.5 * LOG_2PI)


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I) summed over every dimension but the batch one."""
    flat = z.reshape(z.shape[0], -1)
    return -0.5 * (flat.pow(2).sum(-1) + flat.shape[-1] * torch.log(torch.tensor(2 * torch.pi, dtype=z.dtype)))
