"""GenPO++: PPO on the exact likelihood of the reversible sampler's pair (genpopp.md §2-§4).

Stores the pair y = (x_{N-1}, x_N) per sample; log r = log p0(F^{-1}_theta(y)) - log p0(F^{-1}_old(y)).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from finetune.algos.base import Act, Algorithm
from finetune.config import GenPOppConfig
from genpo.policy import FlowPolicy, SamplerConfig


@torch.no_grad()
def history_noise_gain(policy: FlowPolicy, obs: Tensor, probe_tau: float = 1e-3) -> Tensor:
    """Per-dimension spread of x_N per unit tau, measured at fixed x_0 on `obs` (linear for small tau).

    Near t = 1 a stiff pretrained flow amplifies history noise (genpopp.md §5), so tau is
    calibrated against the measured gain rather than set to the target spread directly.
    """
    saved_log_tau = policy.log_tau.detach().clone()
    policy.log_tau.fill_(math.log(probe_tau))
    latent = policy.latent(obs.shape[0]).to(obs.dtype)
    without_history_noise = latent.clone()
    without_history_noise[:, 1] = 0.0
    spread = policy.sample(obs, latent).sample.action - policy.sample(obs, without_history_noise).sample.action
    policy.log_tau.copy_(saved_log_tau)
    return (spread.std(0) / probe_tau).clamp_min(1e-3)


class GenPOpp(Algorithm):
    name = "genpopp"

    def __init__(self, policy: FlowPolicy, cfg: GenPOppConfig, calibration_obs: Tensor | None = None):
        super().__init__(policy)
        num_steps = cfg.num_steps or policy.config.sampler.num_steps
        tau = cfg.tau if cfg.tau > 0 else 1.0
        policy.set_sampler(SamplerConfig(kind="reversible", num_steps=num_steps, sigma=cfg.sigma, init=cfg.init,
                                         coefficient=cfg.coefficient, tau=tau, learn_tau=cfg.learn_tau))
        if cfg.init == "pretrained" and cfg.tau <= 0:
            if calibration_obs is None:
                raise ValueError("calibrating tau needs observations (calibration_obs)")
            gain = history_noise_gain(policy, calibration_obs)
            with torch.no_grad():
                policy.log_tau.copy_(torch.log(cfg.action_noise / gain))

    @torch.no_grad()
    def act(self, obs: Tensor, generator: torch.Generator | None = None) -> Act:
        out = self.policy.sample(obs, generator=generator)
        return Act(out.env_actions, out.sample.stored, out.sample.log_prob)

    def log_prob(self, obs: Tensor, stored: Tensor) -> Tensor:
        return self.policy.log_prob(obs, stored)

    @torch.no_grad()
    def snapshot(self, obs: Tensor, stored: Tensor) -> dict:
        """At theta_old: z_old = F^{-1}(y) and the round-trip error max |F(F^{-1}(y)) - y|."""
        velocity, params = self.policy.velocity(obs), self.policy.sampler_params()
        latent = self.policy.sampler.inverse(velocity, stored, **params)
        roundtrip = (self.policy.sampler.forward(velocity, latent, **params) - stored).abs().max()
        return {"latent": latent, "roundtrip_error": roundtrip.item()}

    @torch.no_grad()
    def diagnostics(self, obs: Tensor, stored: Tensor, snapshot: dict) -> dict[str, float]:
        """Round-trip error, action drift ||F_theta(z_old)_N - x_N|| at fixed noise, sum log tau."""
        policy = self.policy
        pair_new = policy.sampler.forward(policy.velocity(obs), snapshot["latent"], **policy.sampler_params())
        out = {"genpopp/pair_roundtrip_error": snapshot["roundtrip_error"],
               "genpopp/action_drift": (pair_new[:, 1] - stored[:, 1]).norm(dim=-1).mean().item()}
        if policy.log_tau is not None:
            out["genpopp/sum_log_tau"] = policy.log_tau.sum().item()
        return out
