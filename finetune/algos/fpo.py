"""FPO++ (arXiv 2602.02481; FPO: arXiv 2507.21053) in the one PPO harness (baselines.md).

Acting: the flow policy's plain Euler ODE from x_0 ~ N(0, I). Per sample the buffer stores the
action a and M Monte-Carlo pairs (tau_i, eps_i): (M + 1) x (D + 1) numbers.

"Log-prob" term i = -L_i with L_i = || v_theta(x_i, s, tau_i) - (a - eps_i) ||^2 (mean over action
entries by default), x_i = tau_i a + (1 - tau_i) eps_i, so that the harness's ratio per term is
rho_i = exp(L_old_i - L_new_i): a biased surrogate of the likelihood ratio (an ELBO difference), one
ratio per Monte-Carlo sample. Objective (ASPO): PPO's clipped surrogate where A >= 0 and the SPO
penalty rho A - |A| (rho - 1)^2 / (2 eps) where A < 0; the loss averages over samples and i.
Evaluation: zero sampling (x_0 = 0) and stochastic sampling of the same ODE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from finetune.algos.base import Act, Algorithm
from genpo.config import Allowed, at_least, one_of
from genpo.policies import FlowPolicy
from genpo.samplers import SamplerConfig


@dataclass
class FPOConfig:
    """FPO++ (baselines.md): ratios from conditional flow-matching losses at stored (tau_i, eps_i)."""

    num_steps: int = 0  # Euler steps of the sampler; 0 keeps the checkpoint's N
    num_mc: int = 8  # Monte-Carlo (tau, eps) pairs per sample, one ratio each
    aspo: bool = True  # PPO clip for A >= 0, SPO penalty for A < 0; False: PPO clip everywhere (vanilla FPO)
    loss_reduction: str = "mean"  # the CFM loss over action entries: mean | sum

    ALLOWED: ClassVar[dict[str, Allowed]] = {
        "num_steps": at_least(0), "num_mc": at_least(1), "loss_reduction": one_of("mean", "sum"),
    }


class FPO(Algorithm):
    name = "fpo"
    config_class = FPOConfig
    authors_protocol_text = "FPO++'s zero-noise evaluation: the Euler ODE from x_0 = 0 (the same policy as zero sampling)"

    def __init__(self, policy: FlowPolicy, cfg: FPOConfig):
        super().__init__(policy, cfg)
        policy.set_sampler(SamplerConfig(kind="euler", num_steps=cfg.num_steps or policy.config.sampler.num_steps))
        self.dim = policy.config.flat_action_dim

    @torch.no_grad()
    def act(self, obs: Tensor, generator: torch.Generator | None = None) -> Act:
        out = self.policy.sample(obs, generator=generator)
        B, M, D = obs.shape[0], self.cfg.num_mc, self.dim
        eps = torch.randn((B, M, D), generator=generator, device=obs.device, dtype=obs.dtype)
        tau = torch.rand((B, M, 1), generator=generator, device=obs.device, dtype=obs.dtype)
        head = torch.cat([out.sample.action, torch.zeros_like(out.sample.action[:, :1])], dim=-1)[:, None]
        stored = torch.cat([head, torch.cat([eps, tau], dim=-1)], dim=1)  # (B, M + 1, D + 1)
        return Act(out.env_actions, stored, self.log_prob(obs, stored))

    def cfm_loss(self, obs: Tensor, stored: Tensor) -> Tensor:
        """L_i (B, M): the conditional flow-matching loss at the stored (tau_i, eps_i)."""
        D, M = self.dim, stored.shape[1] - 1
        action, eps, tau = stored[:, 0, :D], stored[:, 1:, :D], stored[:, 1:, D]
        x = tau[..., None] * action[:, None] + (1 - tau[..., None]) * eps
        velocity = self.policy.velocity(obs.repeat_interleave(M, dim=0))
        v = velocity(x.flatten(0, 1), tau.flatten()).reshape(x.shape)
        error = (v - (action[:, None] - eps)).pow(2)
        return error.mean(-1) if self.cfg.loss_reduction == "mean" else error.sum(-1)

    def log_prob(self, obs: Tensor, stored: Tensor) -> Tensor:
        return -self.cfm_loss(obs, stored)

    def surrogate(self, ratio: Tensor, advantage: Tensor, clip: float) -> tuple[Tensor, Tensor]:
        advantage = advantage[:, None].expand_as(ratio)
        ppo = torch.max(-advantage * ratio, -advantage * ratio.clamp(1 - clip, 1 + clip))
        if self.cfg.aspo:
            spo = -(ratio * advantage - advantage.abs() * (ratio - 1).pow(2) / (2 * clip))
            ppo = torch.where(advantage >= 0, ppo, spo)
        return ppo, (ratio - 1).abs() > clip

    @torch.no_grad()
    def snapshot(self, obs: Tensor, stored: Tensor) -> Tensor:
        return self.policy.sample(obs, zero=True).sample.action

    @torch.no_grad()
    def diagnostics(self, obs: Tensor, stored: Tensor, snapshot: Tensor) -> dict[str, float]:
        drift = (self.policy.sample(obs, zero=True).sample.action - snapshot).norm(dim=-1).mean()
        return {"fpo/action_drift": drift.item(), "fpo/cfm_loss": self.cfm_loss(obs, stored).mean().item()}
