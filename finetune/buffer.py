"""Rollout storage, GAE with correct truncation bootstrapping, running reward scaling."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor


@dataclass
class Rollout:
    """T policy steps x B envs. `stored` has the algorithm's per-sample shape after (T, B)."""

    obs: Tensor  # (T, B, obs_dim)
    stored: Tensor  # (T, B, ...)
    log_prob: Tensor  # (T, B) at the acting parameters
    value: Tensor  # (T, B)
    reward: Tensor  # (T, B) scaled reward
    terminated: Tensor  # (T, B) bool
    truncated: Tensor  # (T, B) bool
    bootstrap_value: Tensor  # (T, B) V(final_obs) where truncated, else 0
    last_value: Tensor  # (B,) V(obs_T)

    def flatten(self) -> dict[str, Tensor]:
        """(T, B, ...) -> (T * B, ...) for the per-sample tensors the update needs."""
        return {
            f.name: getattr(self, f.name).flatten(0, 1)
            for f in fields(self)
            if f.name in ("obs", "stored", "log_prob", "value")
        }


def compute_gae(
    reward: Tensor,
    value: Tensor,
    terminated: Tensor,
    truncated: Tensor,
    bootstrap_value: Tensor,
    last_value: Tensor,
    gamma: float,
    lam: float,
) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimation over (T, B) tensors.

    delta_t = r_t + gamma * V(next_t) * (1 - terminated_t) - V(s_t), where next_t is s_{t+1} inside an
    episode, the true final observation where the episode was truncated, and irrelevant where it
    terminated. The recursion A_t = delta_t + gamma * lam * A_{t+1} is cut at every episode end.
    Returns (advantages, returns = advantages + values).
    """
    next_value = torch.cat([value[1:], last_value[None]], dim=0)
    next_value = torch.where(truncated, bootstrap_value, next_value)
    not_terminal = (~terminated).to(reward.dtype)
    continues = (~(terminated | truncated)).to(reward.dtype)
    advantages = torch.zeros_like(reward)
    running = torch.zeros_like(last_value)
    for t in reversed(range(reward.shape[0])):
        delta = reward[t] + gamma * next_value[t] * not_terminal[t] - value[t]
        running = delta + gamma * lam * continues[t] * running
        advantages[t] = running
    return advantages, advantages + value


class RewardScaler:
    """Divide rewards by the running std of the discounted return (as ReinFlow / DPPO do)."""

    def __init__(self, num_envs: int, gamma: float, enabled: bool = True):
        self.gamma, self.enabled = gamma, enabled
        self.discounted = torch.zeros(num_envs, dtype=torch.float64)
        self.count, self.mean, self.m2 = 0, 0.0, 0.0

    def __call__(self, reward: Tensor, done: Tensor) -> Tensor:
        if not self.enabled:
            return reward
        self.discounted = self.discounted * self.gamma + reward.double().cpu()
        self._update(self.discounted)
        self.discounted[done.cpu()] = 0.0
        std = (self.m2 / max(self.count - 1, 1)) ** 0.5
        return reward / max(std, 1e-4) if self.count > 1 else reward

    def _update(self, x: Tensor) -> None:
        """Chan et al. parallel update of count / mean / M2 with a batch."""
        n, mean, var = x.numel(), x.mean().item(), x.var(unbiased=False).item()
        total = self.count + n
        delta = mean - self.mean
        self.m2 += var * n + delta**2 * self.count * n / total
        self.mean += delta * n / total
        self.count = total

    def state_dict(self) -> dict:
        return {"discounted": self.discounted, "count": self.count, "mean": self.mean, "m2": self.m2}

    def load_state_dict(self, state: dict) -> None:
        self.discounted, self.count, self.mean, self.m2 = (
            state["discounted"],
            state["count"],
            state["mean"],
            state["m2"],
        )
