"""What an algorithm is in the one PPO harness: a sampler, what it stores, and its log-probability.

The harness (finetune/ppo.py) owns rollouts, GAE, minibatches, clipping, optimisers and logging.
An algorithm only says how to act (and what to keep for later), how to compute the log-probability
of what it kept, and which extra loss terms it adds. It lives in one file with its config dataclass
and is listed in finetune.algos.ALGORITHMS (README, "How to add an algorithm").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from genpo.policies import ChunkPolicy, FlowPolicy


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
    """Base class. Subclasses set the class attributes below and implement `act` and `log_prob`.

    name: the `algo=` value; config_class: its config dataclass, composed into FinetuneConfig under
    `config_key` (default: name); policy_class: the policy kind it fine-tunes (the runner loads the
    task's checkpoint for that kind: checkpoints/<task>_<policy_class.objective> unless it is "flow").
    `self.cfg` is the config as it ran (an algorithm may resolve "auto" values): the run writes it."""

    name: ClassVar[str]
    config_class: ClassVar[type]
    config_key: ClassVar[str] = ""
    policy_class: ClassVar[type[ChunkPolicy]] = FlowPolicy

    def __init__(self, policy: ChunkPolicy, cfg: Any):
        super().__init__()
        if not isinstance(policy, self.policy_class):
            raise ValueError(f"algo={self.name} fine-tunes a {self.policy_class.__name__}, but the start checkpoint holds a "
                             f"{type(policy).__name__}; pretrain one with `python pretrain/run.py objective="
                             f"{self.policy_class.objective}`")
        self.policy, self.cfg = policy, cfg

    @classmethod
    def section(cls) -> str:
        """The FinetuneConfig field holding this algorithm's config."""
        return cls.config_key or cls.name

    def prepare(self, obs: Tensor) -> None:
        """Called once before training with observations of the first reset (e.g. GenPO++'s tau calibration)."""

    def conversion_notes(self) -> list[str]:
        """Warnings about settings known to move a pretrained policy (printed with the run's conversion check)."""
        return []

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
    def action_kl(self, obs: Tensor, stored: Tensor, snapshot) -> float | None:
        """An action-level KL proxy between theta_old (the snapshot) and now, for ppo.kl_measure=action; None:
        this algorithm has none (the rule then keeps the LR)."""
        return None

    @torch.no_grad()
    def diagnostics(self, obs: Tensor, stored: Tensor, snapshot) -> dict[str, float]:
        """Algorithm-specific numbers logged once per iteration (after the update)."""
        return {}

    @torch.no_grad()
    def act_for_eval(self, obs: Tensor, zero: bool, generator: torch.Generator | None = None) -> Tensor:
        """Env actions for evaluation: zero sampling (z = 0) or stochastic sampling."""
        return self.policy.sample(obs, zero=zero, generator=generator).env_actions

    # The evaluation the method's authors report (docs/baselines.md), logged as eval_authors/*: "zero" or
    # "stochastic" where it is the same policy as that reading (its numbers are copied, not re-run), "own" where
    # `act_authors` defines it; authors_protocol_text says what it is, for tables.
    authors_protocol: ClassVar[str] = "zero"
    authors_protocol_text: ClassVar[str] = "zero-noise evaluation (the same policy as zero sampling)"

    @torch.no_grad()
    def act_authors(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Env actions under the authors' evaluation protocol, for authors_protocol == "own"."""
        raise NotImplementedError(f"algo={self.name} declares authors_protocol={self.authors_protocol!r}")

    def export_policy(self) -> ChunkPolicy:
        """The policy written as a LeRobot policy directory."""
        return self.policy
