"""GenPO++ reversible two-step sampler with an exact likelihood.

Mirrors docs/genpopp.md section by section:

  §1 forward : x_{i+1} = sigma * x_{i-1} + (1 - sigma) * x_i + c_i * v(x_i, t_i)
     inverse : x_{i-1} = [x_{i+1} - (1 - sigma) * x_i - c_i * v(x_i, t_i)] / sigma
     consistent coefficient c_i = h_i + sigma * h_{i-1}  (the dev-code variant uses c_i = h_i)
     |det| of one step = sigma^d, whatever v is.
  §2 the density lives on the PAIR y = (x_{N-1}, x_N):
     log pi(y) = log p0(F^{-1}(y)) - log|det|,  log|det| a closed-form constant.
  §3 initialisations:
     A "independent": (x_{-1}, x_0) ~ N(0, I_2d),            log|det| = N d log sigma
     B "pretrained" : z = (x_0, xi) ~ N(0, I_2d),
                      x_1 = x_0 + h_0 v(x_0, t_0) + tau * xi,  log|det| = sum log tau + (N-1) d log sigma
  §5 float32 inversion divides by sigma per step: refuse sigma^-steps above `max_inverse_gain`.

Shapes: x, xi, tau broadcast over (B, D); the stored pair and the latent are (B, 2, D).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from genpo.samplers.base import SampleOutput, Sampler, VelocityFn, broadcast_time, standard_normal_log_prob, time_grid

Init = Literal["pretrained", "independent"]
Coefficient = Literal["consistent", "dt"]


class ReversibleSampler(Sampler):
    """The GenPO++ sampler: N velocity evaluations in the original action dimension, exact inverse.

    Args:
        num_steps: N, the number of network evaluations.
        sigma: history ("lag") coefficient in (0, 1].
        init: "pretrained" (B: Euler start + history noise tau, for fine-tuning a pretrained flow)
            or "independent" (A: GenPO-style independent pair, for training from scratch).
        coefficient: "consistent" (c_i = h_i + sigma h_{i-1}) or "dt" (c_i = h_i, GenPO dev code).
        grid: optional time grid t_0 = 0 < ... < t_N = 1 (uniform if None).
        max_inverse_gain: largest allowed sigma^-(inverse steps) for float32 inversion (genpopp §5).
        tau: init B's initial history noise (normalised action units), the start of the policy's log tau.
        learn_tau: whether that log tau is trained.
        base_std: std of the flow's own noise x_0 (init B; both pair entries for init A) in the base density,
            1 = the paper. Below 1 the sampler explores closer to its zero-sampling path; the density stays exact.
    """

    def __init__(
        self,
        num_steps: int,
        sigma: float = 0.9,
        init: Init = "pretrained",
        coefficient: Coefficient = "consistent",
        grid: Sequence[float] | None = None,
        max_inverse_gain: float = 100.0,
        tau: float = 0.05,
        learn_tau: bool = False,
        base_std: float = 1.0,
    ):
        if not 0.0 < sigma <= 1.0:
            raise ValueError(f"sigma must lie in (0, 1], got {sigma}")
        if init not in ("pretrained", "independent"):
            raise ValueError(f"init must be 'pretrained' or 'independent', got {init!r}")
        if coefficient not in ("consistent", "dt"):
            raise ValueError(f"coefficient must be 'consistent' or 'dt', got {coefficient!r}")
        self.num_steps, self.sigma, self.init, self.coefficient = num_steps, float(sigma), init, coefficient
        self.max_inverse_gain = max_inverse_gain
        self.tau, self.learn_tau = tau, learn_tau
        if not base_std > 0:
            raise ValueError(f"base_std must be > 0, got {base_std}")
        self.base_std = float(base_std)
        self.t = time_grid(num_steps, grid, dtype=torch.float64)
        h = self.t[1:] - self.t[:-1]
        # h_{-1} for init A's first two-step update: the first step's own size.
        h_prev = torch.cat([h[:1], h[:-1]])
        self.c = h + self.sigma * h_prev if coefficient == "consistent" else h.clone()
        self.h = h
        self._check_inverse_gain()

    @classmethod
    def from_config(cls, cfg) -> ReversibleSampler:
        return cls(cfg.num_steps, cfg.sigma, cfg.init, cfg.coefficient, cfg.grid, tau=cfg.tau, learn_tau=cfg.learn_tau,
                   base_std=cfg.base_std)

    def parameters(self, dim: int, device: torch.device | str) -> dict[str, nn.Parameter]:
        """Init B adds a per-dimension log tau (the history noise), starting at log(tau)."""
        if self.init != "pretrained":
            return {}
        log_tau = torch.full((dim,), math.log(self.tau), device=device)
        return {"log_tau": nn.Parameter(log_tau, requires_grad=self.learn_tau)}

    # ---- §5: numerics guard -------------------------------------------------------------------
    @property
    def two_step_updates(self) -> range:
        """Indices i of the two-step updates x_{i+1} = sigma x_{i-1} + ...: 1..N-1 (B) or 0..N-1 (A)."""
        return range(1 if self.init == "pretrained" else 0, self.num_steps)

    @property
    def inverse_gain(self) -> float:
        """sigma^-(number of inverse divisions): how much float round-off can grow in inversion."""
        return self.sigma ** -len(self.two_step_updates)

    def _check_inverse_gain(self) -> None:
        if self.inverse_gain > self.max_inverse_gain:
            steps = len(self.two_step_updates)
            # Round the suggestion UP to the printed 3 decimals (and past any float tie), so that
            # the sigma the message names really passes this check.
            min_sigma = math.ceil(math.exp(-math.log(self.max_inverse_gain) / steps) * 1000) / 1000
            while min_sigma < 1.0 and min_sigma ** -steps > self.max_inverse_gain:
                min_sigma = round(min_sigma + 0.001, 3)
            raise ValueError(
                f"sigma={self.sigma} with {steps} two-step updates amplifies float round-off in the inverse "
                f"by sigma^-{steps} = {self.inverse_gain:.3g} (limit {self.max_inverse_gain:g}), which makes "
                f"float32 log-probs meaningless. Use sigma >= {min_sigma:.3f}, fewer flow steps, or raise "
                f"max_inverse_gain only if the sampler runs in float64."
            )

    # ---- §3: latent and closed-form log-determinant ------------------------------------------
    def latent_shape(self, batch: int, dim: int) -> tuple[int, ...]:
        return (batch, 2, dim)

    def latent_scale(self) -> float | Tensor:
        """(1, 2, 1): base_std on x_0 (init B; the history noise xi stays standard) or on both entries (init A)."""
        if self.base_std == 1.0:
            return 1.0
        second = 1.0 if self.init == "pretrained" else self.base_std
        return torch.tensor([self.base_std, second], dtype=torch.float64).reshape(1, 2, 1)

    def log_det(self, dim: int, log_tau: Tensor | None = None) -> Tensor:
        """log|det dF/dz|, a constant of the solver: (N-1) d log sigma + sum log tau (B), N d log sigma (A)."""
        two_step = len(self.two_step_updates) * dim * math.log(self.sigma)
        if self.init == "independent":
            return torch.tensor(two_step, dtype=torch.float64)
        tau_term = self._log_tau(log_tau, dim).sum()
        return tau_term.to(torch.float64) + two_step

    def _log_tau(self, log_tau: Tensor | None, dim: int) -> Tensor:
        if log_tau is None:
            raise ValueError("init='pretrained' needs log_tau (per-dimension log of the history noise tau)")
        return log_tau.expand(dim) if log_tau.numel() == 1 else log_tau

    # ---- §1 + §3: forward map z -> y = (x_{N-1}, x_N) -----------------------------------------
    def _step(self, velocity: VelocityFn, x_prev: Tensor, x: Tensor, i: int) -> Tensor:
        """§1 forward: x_{i+1} = sigma x_{i-1} + (1 - sigma) x_i + c_i v(x_i, t_i)."""
        t_i = broadcast_time(self.t[i], x)
        c_i = self.c[i].to(x.dtype)
        return self.sigma * x_prev + (1 - self.sigma) * x + c_i * velocity(x, t_i)

    def _inverse_step(self, velocity: VelocityFn, x: Tensor, x_next: Tensor, i: int) -> Tensor:
        """§1 inverse: x_{i-1} = [x_{i+1} - (1 - sigma) x_i - c_i v(x_i, t_i)] / sigma."""
        t_i = broadcast_time(self.t[i], x)
        c_i = self.c[i].to(x.dtype)
        return (x_next - (1 - self.sigma) * x - c_i * velocity(x, t_i)) / self.sigma

    def _euler_start(self, velocity: VelocityFn, x0: Tensor) -> Tensor:
        """§3 B without noise: x_0 + h_0 v(x_0, t_0)."""
        return x0 + self.h[0].to(x0.dtype) * velocity(x0, broadcast_time(self.t[0], x0))

    def forward(self, velocity: VelocityFn, latent: Tensor, log_tau: Tensor | None = None) -> Tensor:
        """F_theta(z): latent (B, 2, D) -> pair (B, 2, D) = (x_{N-1}, x_N)."""
        first, second = latent[:, 0], latent[:, 1]
        if self.init == "pretrained":  # §3 B: x_1 = x_0 + h_0 v(x_0) + tau * xi
            tau = self._log_tau(log_tau, latent.shape[-1]).exp().to(latent.dtype)
            x_prev, x = first, self._euler_start(velocity, first) + tau * second
        else:  # §3 A: (x_{-1}, x_0) = z
            x_prev, x = first, second
        for i in self.two_step_updates:
            x_prev, x = x, self._step(velocity, x_prev, x, i)
        return torch.stack([x_prev, x], dim=1)

    def inverse(self, velocity: VelocityFn, pair: Tensor, log_tau: Tensor | None = None) -> Tensor:
        """F_theta^{-1}(y): pair (B, 2, D) -> latent (B, 2, D), exact up to round-off."""
        x, x_next = pair[:, 0], pair[:, 1]
        for i in reversed(self.two_step_updates):
            x, x_next = self._inverse_step(velocity, x, x_next, i), x
        if self.init == "independent":
            return torch.stack([x, x_next], dim=1)
        tau = self._log_tau(log_tau, pair.shape[-1]).exp().to(pair.dtype)
        xi = (x_next - self._euler_start(velocity, x)) / tau  # §3 B inverse
        return torch.stack([x, xi], dim=1)

    # ---- §2: exact density of the pair ------------------------------------------------------
    def log_prob(self, velocity: VelocityFn, pair: Tensor, log_tau: Tensor | None = None) -> Tensor:
        """log pi(y) = log N(F^{-1}(y); 0, I) - log|det|, shape (B,)."""
        latent = self.inverse(velocity, pair, log_tau)
        return self.log_prob_of_latent(latent, log_tau)

    def log_prob_of_latent(self, latent: Tensor, log_tau: Tensor | None = None) -> Tensor:
        """log p0(z) - log|det|, p0 = N(0, latent_scale^2) (the standard normal when base_std = 1)."""
        log_det = self.log_det(latent.shape[-1], log_tau).to(latent.dtype)
        scale = self.latent_scale()
        if isinstance(scale, float):
            return standard_normal_log_prob(latent) - log_det
        scale = scale.to(latent)
        base = standard_normal_log_prob(latent / scale) - scale.log().expand_as(latent[:1]).sum()
        return base - log_det

    def sample(self, velocity: VelocityFn, latent: Tensor, log_tau: Tensor | None = None) -> SampleOutput:
        """Draw y = F(z) with its exact log-prob; the executed action is x_N = y[:, 1]."""
        pair = self.forward(velocity, latent, log_tau)
        return SampleOutput(action=pair[:, 1], stored=pair, latent=latent,
                            log_prob=self.log_prob_of_latent(latent, log_tau))
