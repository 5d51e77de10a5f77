"""ReinFlow (arXiv 2505.22094) in the one PPO harness, as its public code runs it (baselines.md).

Acting: the noisy Euler chain (genpo.samplers.noisy_euler) with per-step, per-entry noise scales from
a small network on [time embedding of t_k, observation] (NOT on x_k), squashed with tanh in
log-variance space into [min_std^2, max_std^2]. The buffer stores the whole chain (K + 1) x D.

PPO ratio: log p(chain) = log N(x_0) + sum_k log N(x_{k+1}; mean_k, sigma_k^2); their code divides it
by (K + 1) and by the number of action entries and clamps it to [-1, 1] (a per-step, per-entry
geometric-mean ratio); `average_log_prob=false` gives the summed (paper) form. Loss extras: the
chain's closed-form entropy (averaged the same way) and an optional W2 behaviour-cloning term.
Evaluation and export: the plain Euler ODE with the fine-tuned velocity; the noise network is dropped.

Differences from their code, on purpose: sampling and log-prob use the same time grid t_k = k / K
(their sampler uses linspace(0, 1, K), their log-prob linspace(0, 1 - 1/K, K), so their ratio is not
1 at theta_old for K > 1, issue #5); the noise network sees our velocity MLP's (parameter-free)
sinusoidal time embedding and the normalised observation, because our network has no learned time
or observation embedding to detach; evaluation starts the ODE at x_0 = 0 (zero sampling) or
x_0 ~ N(0, I) (stochastic), without their intermediate clipping, so that what is evaluated is
exactly the exported flow policy.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import Tensor, nn

from finetune.algos.base import Act, Algorithm, Evaluation
from genpo.config import Allowed, at_least, between
from genpo.networks import SinusoidalTimeEmbedding, mlp
from genpo.policies import FlowPolicy
from genpo.samplers import LOG_2PI, NoisyEulerSampler, SamplerConfig, standard_normal_log_prob


@dataclass
class ReinFlowConfig:
    """ReinFlow (baselines.md): noisy Euler chain with a learned, bounded noise network."""

    num_steps: int = 4  # K Euler steps (their locomotion K = 4); 0 keeps the checkpoint's N
    min_std: float = 0.10  # noise-network output range (their Hopper/Walker: 0.10 - 0.24)
    max_std: float = 0.24
    max_std_hold: float = 0.35  # hold max_std for this fraction of training, then cosine-decay it ...
    max_std_decay: float = 0.7  # ... to min_std * (1 - this) + max_std * this (1.0: no decay)
    noise_hidden: list[int] = field(default_factory=lambda: [64, 64])
    noise_time_dim: int = 16
    mean_clip: float = 1.0  # clip every step's mean to +-this (their denoised_clip_value); 0: off
    noise_clip: float = 3.0  # clip the step noise to +-this std
    final_clip: float = 1.0  # clip the action to +-this
    include_initial: bool = True  # log N(x_0) in the chain log-prob and entropy (account_for_initial_stochasticity)
    average_log_prob: bool = True  # their code: divide by (K + 1) and by the action entries; False: summed (paper)
    log_prob_min: float = -1.0  # averaged form only: clamp the log-prob to [min, max] (their logprob_min/max)
    log_prob_max: float = 1.0
    entropy_coef: float = 0.03
    bc_coef: float = 0.0  # > 0: W2 term, MSE to the frozen pretrained flow's deterministic action

    ALLOWED: ClassVar[dict[str, Allowed]] = {
        "num_steps": at_least(0), "min_std": between(0, "max_std", low_open=True), "max_std_hold": between(0, 1),
        "max_std_decay": between(0, 1), "log_prob_min": Allowed(high="log_prob_max", high_open=True),
        "entropy_coef": at_least(0), "bc_coef": at_least(0),
    }


class NoiseNet(nn.Module):
    """features -> sigma in [min_std, max_std]: tanh-squashed log-variance (ReinFlow's ExploreNoiseNet)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: list[int], min_std: float, max_std: float):
        super().__init__()
        if not 0 < min_std <= max_std:
            raise ValueError(f"need 0 < min_std <= max_std, got {min_std} and {max_std}")
        self.net = mlp([in_dim, *hidden, out_dim], activation=nn.Tanh)
        self.register_buffer("logvar_min", torch.tensor(0.0), persistent=False)
        self.register_buffer("logvar_max", torch.tensor(0.0), persistent=False)
        self.set_range(min_std, max_std)

    def set_range(self, min_std: float, max_std: float) -> None:
        self.logvar_min.fill_(2 * math.log(min_std))
        self.logvar_max.fill_(2 * math.log(max_std))

    def forward(self, features: Tensor) -> Tensor:
        squashed = torch.tanh(self.net(features))
        logvar = self.logvar_min + (self.logvar_max - self.logvar_min) * (squashed + 1) / 2
        return (0.5 * logvar).exp()


def max_std_schedule(cfg: ReinFlowConfig, iteration: int, total: int) -> float:
    """Their 'learn_decay': hold max_std for max_std_hold of training, then cosine-decay it to
    min_std * (1 - max_std_decay) + max_std * max_std_decay."""
    floor = cfg.min_std * (1 - cfg.max_std_decay) + cfg.max_std * cfg.max_std_decay
    hold = total * cfg.max_std_hold
    if iteration < hold or total <= hold:
        return cfg.max_std
    progress = min((iteration - hold) / (total - hold), 1.0)
    return floor + (cfg.max_std - floor) * 0.5 * (1 + math.cos(math.pi * progress))


class ReinFlow(Algorithm):
    name = "reinflow"
    config_class = ReinFlowConfig

    def __init__(self, policy: FlowPolicy, cfg: ReinFlowConfig):
        super().__init__(policy, cfg)
        num_steps = cfg.num_steps or policy.config.sampler.num_steps
        # Evaluation and export: the plain Euler ODE; the chain below uses exactly the same grid.
        policy.set_sampler(SamplerConfig(kind="euler", num_steps=num_steps))
        self.chain = NoisyEulerSampler(num_steps, policy.sampler.t.tolist(), cfg.mean_clip, cfg.noise_clip, cfg.final_clip)
        self.dim = policy.config.flat_action_dim
        self.time_embedding = SinusoidalTimeEmbedding(cfg.noise_time_dim)
        self.noise_net = NoiseNet(
            cfg.noise_time_dim + policy.config.obs_dim, self.dim, cfg.noise_hidden, cfg.min_std, cfg.max_std
        )
        self.frozen_velocity = copy.deepcopy(policy.velocity_net).requires_grad_(False) if cfg.bc_coef > 0 else None
        self.to(self.device)  # the noise net and time embedding join the policy's device

    # ---- the chain's pieces ------------------------------------------------------------------
    def noise_std(self, obs: Tensor) -> Tensor:
        """sigma (B, K, D) from [time embedding of t_k, normalised observation] (no x_k)."""
        obs_n = self.policy.obs_normalizer.normalize(obs).detach()
        emb = self.time_embedding(self.chain.t[:-1].to(obs_n)).detach()  # (K, E)
        B, K = obs_n.shape[0], emb.shape[0]
        features = torch.cat([emb[None].expand(B, K, -1), obs_n[:, None].expand(B, K, -1)], dim=-1)
        return self.noise_net(features)

    authors_protocol = "stochastic"
    authors_protocol_text = "the plain Euler ODE from x_0 ~ N(0, I), no step noise (the same policy as stochastic)"

    @property
    def num_terms(self) -> int:
        return self.chain.num_steps + int(self.cfg.include_initial)

    def finish(self, total: Tensor) -> Tensor:
        """Summed chain log-density -> the PPO log-prob (their averaging and clamp, or the sum)."""
        if not self.cfg.average_log_prob:
            return total
        return (total / (self.num_terms * self.dim)).clamp(self.cfg.log_prob_min, self.cfg.log_prob_max)

    def chain_log_density(self, obs: Tensor, chain: Tensor, std: Tensor) -> Tensor:
        terms = self.chain.log_prob_terms(self.policy.velocity(obs), chain, std)
        return terms[:, 0 if self.cfg.include_initial else 1 :].sum(1)

    def entropy(self, std: Tensor) -> Tensor:
        """Closed-form chain entropy (B,), averaged like the log-prob."""
        entropy = self.chain.entropy(std)
        if not self.cfg.include_initial:
            entropy = entropy - 0.5 * self.dim * (1 + LOG_2PI)
        return entropy / (self.num_terms * self.dim) if self.cfg.average_log_prob else entropy

    # ---- the Algorithm interface ---------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs: Tensor, generator: torch.Generator | None = None) -> Act:
        latent = torch.randn(
            self.chain.latent_shape(obs.shape[0], self.dim), generator=generator, device=obs.device, dtype=obs.dtype
        )
        out = self.chain.sample(self.policy.velocity(obs), latent, self.noise_std(obs))
        total = out.log_prob if self.cfg.include_initial else out.log_prob - standard_normal_log_prob(out.stored[:, 0])
        return Act(self.policy.to_env_actions(out.action), out.stored, self.finish(total))

    def log_prob(self, obs: Tensor, stored: Tensor) -> Tensor:
        return self.finish(self.chain_log_density(obs, stored, self.noise_std(obs)))

    def evaluate(self, obs: Tensor, stored: Tensor) -> Evaluation:
        std = self.noise_std(obs)
        log_prob = self.finish(self.chain_log_density(obs, stored, std))
        entropy = self.entropy(std).mean()
        extra = -self.cfg.entropy_coef * entropy
        metrics = {"reinflow/entropy": entropy.detach(), "reinflow/noise_std": std.detach().mean()}
        if self.frozen_velocity is not None:
            x0 = torch.zeros_like(stored[:, 0])
            obs_n = self.policy.obs_normalizer.normalize(obs)
            with torch.no_grad():
                target = self.chain.deterministic(lambda x, t: self.frozen_velocity(x, obs_n, t), x0)
            bc = (self.chain.deterministic(self.policy.velocity(obs), x0) - target).pow(2).mean()
            extra = extra + self.cfg.bc_coef * bc
            metrics["reinflow/bc_loss"] = bc.detach()
        return Evaluation(log_prob, extra, metrics)

    def begin_iteration(self, iteration: int, total: int) -> None:
        self.noise_net.set_range(self.cfg.min_std, max_std_schedule(self.cfg, iteration, total))

    @torch.no_grad()
    def snapshot(self, obs: Tensor, stored: Tensor) -> Tensor:
        """The chain's mean path at theta_old from the stored x_0."""
        return self.chain.deterministic(self.policy.velocity(obs), stored[:, 0])

    @torch.no_grad()
    def diagnostics(self, obs: Tensor, stored: Tensor, snapshot: Tensor) -> dict[str, float]:
        std = self.noise_std(obs)
        drift = (self.chain.deterministic(self.policy.velocity(obs), stored[:, 0]) - snapshot).norm(dim=-1).mean()
        return {
            "reinflow/action_drift": drift.item(),
            "reinflow/noise_std_mean": std.mean().item(),
            "reinflow/noise_std_min": std.min().item(),
            "reinflow/noise_std_max": std.max().item(),
            "reinflow/max_std_bound": math.exp(0.5 * self.noise_net.logvar_max.item()),
        }
