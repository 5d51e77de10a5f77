"""Deterministic Euler integration of the flow ODE dx/dt = v(x, t) ("zero sampling" with z = 0)."""

from __future__ import annotations

import torch
from torch import Tensor

from genpo.samplers.base import SampleOutput, Sampler, VelocityFn, broadcast_time, time_grid


class EulerSampler(Sampler):
    """x_{i+1} = x_i + h_i v(x_i, t_i) from x_0 = z. Deterministic given z: no log-prob."""

    def __init__(self, num_steps: int, grid=None):
        self.t = time_grid(num_steps, grid, dtype=torch.float64)
        self.num_steps = num_steps

    @classmethod
    def from_config(cls, cfg) -> EulerSampler:
        return cls(cfg.num_steps, cfg.grid)

    def latent_shape(self, batch: int, dim: int) -> tuple[int, ...]:
        return (batch, dim)

    def sample(self, velocity: VelocityFn, latent: Tensor) -> SampleOutput:
        t = self.t.to(latent.dtype)
        x = latent
        for i in range(self.num_steps):
            x = x + (t[i + 1] - t[i]) * velocity(x, broadcast_time(t[i], x))
        return SampleOutput(action=x, stored=x, latent=latent, log_prob=None)
