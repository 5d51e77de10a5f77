"""Gaussian PPO (algo=ppo) on a BC-pretrained Gaussian MLP policy (genpo.policies.gaussian), as DPPO runs its
Gaussian baseline (DPPO v0.8, model/rl/gaussian_ppo.py; settings of cfg/robomimic/finetune/square/ft_ppo_gaussian_mlp.yaml,
the Gaussian fine-tuning setting they publish: their gym Gaussian configs train from scratch).

PPO log-prob, their form (average_log_prob=true): the MEAN of log N(a; mean(s), diag(std^2)) over the entries of the
chunk, clamped to [log_prob_min, log_prob_max] = [-5, 2], so the ratio is a per-entry geometric mean (not a
density). average_log_prob=false: the exact log-density summed over the executed entries (executed_only) or every
entry. The buffer stores the sampled chunk (D numbers). Evaluation: the mean (zero) or a sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from finetune.algos.base import Act, Algorithm, Evaluation
from genpo.config import Allowed, at_least, between
from genpo.policies import GaussianPolicy
from genpo.samplers import LOG_2PI, normal_log_density


@dataclass
class GaussianPPOConfig:
    """Gaussian PPO on a BC-pretrained Gaussian MLP policy (algo=ppo)."""

    init_std: float = 0.1  # > 0: reset the pretrained std to this at the start (theirs: std_init 0.1); 0: keep it
    learn_std: bool = True
    min_std: float = 0.01  # their std_min / std_max
    max_std: float = 0.2
    entropy_coef: float = 0.0
    average_log_prob: bool = True  # their mean over chunk entries, clamped; false: the summed exact density
    log_prob_min: float = -5.0
    log_prob_max: float = 2.0
    executed_only: bool = False  # entries the log-prob covers: the executed actions only, or the whole chunk (theirs)

    ALLOWED: ClassVar[dict[str, Allowed]] = {
        "init_std": at_least(0), "min_std": between(0, "max_std", low_open=True), "entropy_coef": at_least(0),
        "log_prob_min": Allowed(high="log_prob_max", high_open=True),
    }


class GaussianPPO(Algorithm):
    name = "ppo"
    config_class = GaussianPPOConfig
    config_key = "gaussian"
    policy_class = GaussianPolicy
    authors_protocol_text = "DPPO's deterministic evaluation of its Gaussian baseline: the mean action (= zero sampling)"

    def __init__(self, policy: GaussianPolicy, cfg: GaussianPPOConfig):
        super().__init__(policy, cfg)
        policy.config.min_std, policy.config.max_std = cfg.min_std, cfg.max_std
        with torch.no_grad():
            if cfg.init_std > 0:
                policy.log_std.fill_(math.log(cfg.init_std))
        policy.log_std.requires_grad_(cfg.learn_std)
        self.entries = policy.config.executed_dim if cfg.executed_only else policy.config.flat_action_dim

    @torch.no_grad()
    def act(self, obs: Tensor, generator: torch.Generator | None = None) -> Act:
        out = self.policy.sample(obs, generator=generator)
        return Act(out.env_actions, out.sample.stored, self.log_prob(obs, out.sample.stored))

    def log_prob(self, obs: Tensor, stored: Tensor) -> Tensor:
        mean, std = self.policy.distribution(obs)
        n, cfg = self.entries, self.cfg
        entries = normal_log_density(stored[:, :n], mean[:, :n], std[:n])
        if not cfg.average_log_prob:
            return entries.sum(-1)
        return entries.mean(-1).clamp(cfg.log_prob_min, cfg.log_prob_max)

    def evaluate(self, obs: Tensor, stored: Tensor) -> Evaluation:
        log_prob = self.log_prob(obs, stored)
        std = self.policy.std()[: self.entries]
        entropy = (0.5 * (1 + LOG_2PI) + std.log()).sum()
        return Evaluation(log_prob, -self.cfg.entropy_coef * entropy, {"ppo_gaussian/std_mean": std.detach().mean()})

    @torch.no_grad()
    def snapshot(self, obs: Tensor, stored: Tensor) -> Tensor:
        return self.policy.distribution(obs)[0]

    @torch.no_grad()
    def diagnostics(self, obs: Tensor, stored: Tensor, snapshot: Tensor) -> dict[str, float]:
        mean, std = self.policy.distribution(obs)
        return {"ppo_gaussian/action_drift": (mean - snapshot).norm(dim=-1).mean().item(), "ppo_gaussian/std": std.mean().item()}
