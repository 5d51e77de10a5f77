"""DPPO (arXiv 2409.00588) in the one PPO harness, as its public code runs it (baselines.md).

The policy is a DDPM (or DDIM, eta) diffusion policy (genpo.policies.diffusion). The last m =
ft_denoising_steps denoising steps are fine-tuned (earlier steps use a frozen copy of the pretrained
network); each is a Gaussian transition with std >= min_std. The buffer stores the m + 1 states of
the fine-tuned part of the chain.

Inner MDP: PPO samples (env step, denoising step) pairs. Here one buffer sample carries all its m
pairs: `log_prob` returns (B, m) per-transition log-probs and `surrogate` treats every (sample, step)
as one PPO term, with
- log-prob per transition = mean over the executed action entries of the per-entry log-density,
  each clamped to [-5, 2] (their order: clamp, slice to the executed actions, mean);
- advantage (GAE on env rewards, normalised per minibatch) times gamma_denoise^(m - 1 - i) for
  chain step i (1 at the last step);
- clip range rising exponentially from clip_base (earliest fine-tuned step) to ppo.clip (last);
  with m = 1 it is ppo.clip (their code divides 0 by 0 there unless guarded).
A minibatch of b samples is b x m pairs (their minibatches draw pairs independently; the expected
gradient is the same). Evaluation: zero sampling = the chain without noise (DDIM: eta = 0) from
x_T = 0 (their "deterministic" mode draws x_T at random, and DDPM keeps std 1e-3 on all but the last
step); stochastic = the training-time chain.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from finetune.algos.base import Act, Algorithm
from genpo.config import Allowed, above, at_least, between
from genpo.policies import DiffusionPolicy


@dataclass
class DPPOConfig:
    """DPPO (baselines.md): the last denoising steps of a DDPM/DDIM chain as an inner MDP."""

    ddim_steps: int = 0  # 0: DDPM over every trained timestep (their locomotion: 20); > 0: DDIM steps
    eta: float = 1.0  # DDIM only
    ft_denoising_steps: int = 10  # fine-tuned last steps (earlier ones use a frozen copy); 0: all
    min_sampling_std: float = 0.1
    min_logprob_std: float = 0.1
    x0_clip: float = 1.0
    noise_clip: float = 3.0
    final_clip: float = 0.0
    log_prob_min: float = -5.0  # per-entry clamp of transition log-probs (theirs: [-5, 2])
    log_prob_max: float = 2.0
    executed_only: bool = True  # log-probs over the executed actions of the chunk only (their reward_horizon)
    gamma_denoising: float = 0.99  # advantage weight gamma^(steps to the chain's end)
    clip_base: float = 0.01  # clip range of the earliest fine-tuned step, rising to ppo.clip at the last
    clip_rate: float = 3.0  # exponential rate of that rise

    ALLOWED: ClassVar[dict[str, Allowed]] = {
        "ddim_steps": at_least(0), "ft_denoising_steps": at_least(0), "min_sampling_std": above(0),
        "min_logprob_std": above(0), "log_prob_min": Allowed(high="log_prob_max", high_open=True),
        "gamma_denoising": between(0, 1, low_open=True), "clip_base": above(0),
    }


def clip_ranges(clip: float, base: float, rate: float, steps: int) -> Tensor:
    """Per fine-tuned step (earliest first): base -> clip, exponential in rate; [clip] for one step."""
    if steps == 1:
        return torch.tensor([clip])
    t = torch.arange(steps, dtype=torch.float64) / (steps - 1)
    if rate == 0:
        return (base + (clip - base) * t).float()
    return (base + (clip - base) * (torch.exp(rate * t) - 1) / (math.exp(rate) - 1)).float()


class DPPO(Algorithm):
    name = "dppo"
    config_class = DPPOConfig
    policy_class = DiffusionPolicy

    def __init__(self, policy: DiffusionPolicy, cfg: DPPOConfig):
        super().__init__(policy, cfg)
        policy.set_diffusion(dataclasses.replace(
            policy.config.diffusion, ddim_steps=cfg.ddim_steps, eta=cfg.eta, ft_denoising_steps=cfg.ft_denoising_steps,
            min_sampling_std=cfg.min_sampling_std, min_logprob_std=cfg.min_logprob_std, x0_clip=cfg.x0_clip,
            noise_clip=cfg.noise_clip, final_clip=cfg.final_clip))
        self.steps = policy.sampler.num_steps - policy.split  # m fine-tuned transitions
        discount = torch.tensor([cfg.gamma_denoising ** (self.steps - 1 - i) for i in range(self.steps)], device=self.device)
        self.register_buffer("term_weight", discount, persistent=False)
        self.entries = policy.config.executed_dim if cfg.executed_only else policy.config.flat_action_dim

    def terms(self, entries: Tensor) -> Tensor:
        """Per-entry log-probs (B, m, D) -> per-transition PPO log-probs (B, m)."""
        return entries.clamp(self.cfg.log_prob_min, self.cfg.log_prob_max)[..., : self.entries].mean(-1)

    @torch.no_grad()
    def act(self, obs: Tensor, generator: torch.Generator | None = None) -> Act:
        out = self.policy.sample(obs, generator=generator)
        return Act(out.env_actions, out.sample.stored, self.terms(out.sample.log_prob))

    def log_prob(self, obs: Tensor, stored: Tensor) -> Tensor:
        return self.terms(self.policy.log_prob(obs, stored))

    authors_protocol = "own"
    authors_protocol_text = "DPPO's deterministic mode: random x_T, the chain's means (theirs keeps std 1e-3)"

    @torch.no_grad()
    def act_authors(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Random x_T, then the noise-free chain (DDIM: eta = 0); their 1e-3 std on DDPM steps is left out."""
        return self.policy.sample(obs, generator=generator, deterministic=True).env_actions

    def surrogate(self, ratio: Tensor, advantage: Tensor, clip: float) -> tuple[Tensor, Tensor]:
        clip_range = clip_ranges(clip, self.cfg.clip_base, self.cfg.clip_rate, self.steps).to(ratio)
        weighted = advantage[:, None] * self.term_weight.to(ratio)
        loss = torch.max(-weighted * ratio, -weighted * torch.clamp(ratio, 1 - clip_range, 1 + clip_range))
        return loss, (ratio - 1).abs() > clip_range

    @torch.no_grad()
    def diagnostics(self, obs: Tensor, stored: Tensor, snapshot) -> dict[str, float]:
        return {"dppo/fine_tuned_steps": float(self.steps),
                "dppo/chain_step_size": (stored[:, 1:] - stored[:, :-1]).norm(dim=-1).mean().item()}
