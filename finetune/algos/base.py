"""What an algorithm is in the one PPO harness: a sampler, what it stores, and its log-probability.

The harness (finetune/ppo.py) owns rollouts, GAE, minibatches, clipping, optimisers and logging.
An algorithm only says how to act (and what to keep for later), how to compute the log-probability
of what it kept, and which extra loss terms it adds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from genpo.policy import FlowPolicy


@dataclass
class Act:
    env_actions: Tensor  # (B, k, d) env units
    stored: Tensor  # (B, ...) what the buffer keeps per sample
    log_prob: Tensor  # (B,) at the acting parameters, or (B, M): M PPO terms per sample (see `surrogate`)


@dataclass
class Evaluation:
    log_prob: Tensor  # (B,) or (B, M) differentiable, same layout as Act.log_prob
    extra_loss: Tensor  # scalar added to the PPO loss (entropy bonus, BC term, ...)
    metrics: dict[str, Tensor] = field(default_factory=dict)


class Algorithm(nn.Module):
    """Base class: subclasses set `name` and implement `act` and `log_prob`."""

    name = "base"

    def __init__(self, policy: FlowPolicy):
        super().__init__()
        self.policy = policy

    @property
    def device(self) -> torch.device:
        """The policy's device: state an algorithm adds is created there (accelerate moved the policy first)."""
        return self.policy.obs_normalizer.mean.device

    @torch.no_grad()
    def act(self, obs: Tensor, generator: torch.Generator | None = None) -> Act:
        raise NotImplementedError

    def log_prob(self, obs: Tensor, stored: Tensor) -> Tensor:
        raise NotImplementedError

    def surrogate(self, ratio: Tensor, advantage: Tensor, clip: float) -> tuple[Tensor, Tensor]:
        """The PPO policy objective per term, to be averaged: (loss, clipped indicator), both ratio's shape.

        ratio is (B,) or (B, M) (M terms per sample: denoising steps for DPPO, Monte-Carlo samples for
        FPO), advantage (B,) normalised. Default: PPO's clipped surrogate with one clip range, the
        advantage shared by every term. Override for per-term clip ranges or weights (DPPO) or another
        objective (FPO++'s ASPO)."""
        if ratio.ndim > advantage.ndim:
            advantage = advantage.reshape(*advantage.shape, *(1,) * (ratio.ndim - advantage.ndim))
        loss = torch.max(-advantage * ratio, -advantage * ratio.clamp(1 - clip, 1 + clip))
        return loss, (ratio - 1).abs() > clip

    def begin_iteration(self, iteration: int, total: int) -> None:
        """Called before each iteration's rollout (e.g. ReinFlow's noise-bound schedule)."""

    def evaluate(self, obs: Tensor, stored: Tensor) -> Evaluation:
        """Training-time forward; override to add loss terms."""
        log_prob = self.log_prob(obs, stored)
        return Evaluation(log_prob, log_prob.new_zeros(()))

    @torch.no_grad()
    def snapshot(self, obs: Tensor, stored: Tensor):
        """Anything `diagnostics` needs from theta_old, taken just before the update."""
        return None

    @torch.no_grad()
    def diagnostics(self, obs: Tensor, stored: Tensor, snapshot) -> dict[str, float]:
        """Algorithm-specific numbers logged once per iteration (after the update)."""
        return {}

    @torch.no_grad()
    def act_for_eval(self, obs: Tensor, zero: bool, generator: torch.Generator | None = None) -> Tensor:
        """Env actions for evaluation: zero sampling (z = 0) or stochastic sampling."""
        return self.policy.sample(obs, zero=zero, generator=generator).env_actions

    def export_policy(self) -> FlowPolicy:
        """The policy written as a LeRobot policy directory."""
        return self.policy
