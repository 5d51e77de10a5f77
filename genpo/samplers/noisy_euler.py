"""ReinFlow's noisy Euler chain (baselines.md, ReinFlow): an Euler flow sampler with Gaussian noise
injected after every step, so that the whole chain has a tractable density.

    x_0 ~ N(0, I)
    mean_k  = clip(x_k + h_k v(x_k, t_k), -mean_clip, mean_clip)
    x_{k+1} = mean_k + sigma_k * clip(eps_k, -noise_clip, noise_clip),   eps_k ~ N(0, I)
    x_N     = clip(x_N, -final_clip, final_clip)                         (the executed action)

    log p(chain) = log N(x_0; 0, I) + sum_k log N(x_{k+1}; mean_k, sigma_k^2 I)

The noise scales sigma_k (B, N, D) are inputs: ReinFlow's noise network depends on the observation
and the step only (never on x_k), so the caller computes them once per chain. The same time grid
serves sampling and the log-prob (ReinFlow's public code samples on linspace(0, 1, K) but scores on
linspace(0, 1 - 1/K, K), so its ratio is not 1 at theta_old for K > 1; that is not reproduced here).

Shapes: latent (B, N + 1, D) = (x_0, eps_0 .. eps_{N-1}); stored chain (B, N + 1, D) = (x_0 .. x_N).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from genpo.samplers.base import (
    LOG_2PI,
    SampleOutput,
    Sampler,
    VelocityFn,
    broadcast_time,
    normal_log_density,
    standard_normal_log_prob,
    time_grid,
)


def _clip(x: Tensor, bound: float) -> Tensor:
    return x.clamp(-bound, bound) if bound > 0 else x


class NoisyEulerSampler(Sampler):
    """The ReinFlow chain. Clip bounds <= 0 disable the corresponding clip."""

    def __init__(self, num_steps: int, grid: Sequence[float] | None = None, mean_clip: float = 1.0,
                 noise_clip: float = 3.0, final_clip: float = 1.0):
        self.num_steps = num_steps
        self.t = time_grid(num_steps, grid, dtype=torch.float64)
        self.mean_clip, self.noise_clip, self.final_clip = mean_clip, noise_clip, final_clip

    def latent_shape(self, batch: int, dim: int) -> tuple[int, ...]:
        return (batch, self.num_steps + 1, dim)

    def transition_mean(self, velocity: VelocityFn, x: Tensor, i: int) -> Tensor:
        """mean_i = clip(x_i + h_i v(x_i, t_i))."""
        h = (self.t[i + 1] - self.t[i]).to(x.dtype)
        return _clip(x + h * velocity(x, broadcast_time(self.t[i], x)), self.mean_clip)

    def sample(self, velocity: VelocityFn, latent: Tensor, std: Tensor) -> SampleOutput:
        """Draw a chain from latent (B, N+1, D) with noise scales std (B, N, D); log_prob is the exact
        (summed) log-density of the stored chain, shape (B,)."""
        x = latent[:, 0]
        states, log_prob = [x], standard_normal_log_prob(x)
        for i in range(self.num_steps):
            mean = self.transition_mean(velocity, x, i)
            x = mean + std[:, i] * _clip(latent[:, i + 1], self.noise_clip)
            if i == self.num_steps - 1:
                x = _clip(x, self.final_clip)
            log_prob = log_prob + normal_log_density(x, mean, std[:, i]).sum(-1)
            states.append(x)
        chain = torch.stack(states, dim=1)
        return SampleOutput(action=x, stored=chain, latent=latent, log_prob=log_prob)

    def log_prob_terms(self, velocity: VelocityFn, chain: Tensor, std: Tensor) -> Tensor:
        """(B, N + 1) log-densities summed over D: term 0 is log N(x_0; 0, I), term k + 1 the
        transition x_k -> x_{k+1}. Their sum is the exact log-density of the chain."""
        terms = [standard_normal_log_prob(chain[:, 0])]
        for i in range(self.num_steps):
            mean = self.transition_mean(velocity, chain[:, i], i)
            terms.append(normal_log_density(chain[:, i + 1], mean, std[:, i]).sum(-1))
        return torch.stack(terms, dim=1)

    def log_prob(self, velocity: VelocityFn, chain: Tensor, std: Tensor) -> Tensor:
        return self.log_prob_terms(velocity, chain, std).sum(1)

    def entropy(self, std: Tensor) -> Tensor:
        """Closed-form entropy of the chain (B,): N(0, I) for x_0 plus the Gaussian transitions."""
        dim = std.shape[-1]
        return 0.5 * dim * (1 + LOG_2PI) + (0.5 * (1 + LOG_2PI) + std.log()).sum((1, 2))

    def deterministic(self, velocity: VelocityFn, x0: Tensor) -> Tensor:
        """The chain's mean path (no noise), with the same clips: ReinFlow's `sample_action`."""
        x = x0
        for i in range(self.num_steps):
            x = self.transition_mean(velocity, x, i)
        return _clip(x, self.final_clip)

