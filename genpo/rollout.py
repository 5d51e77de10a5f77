"""Policy evaluation in a batched env: zero sampling (z = 0) or stochastic sampling."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from genpo.envs.base import BatchedEnv

ActFn = Callable[[torch.Tensor, bool, torch.Generator], torch.Tensor]
"""act(obs, zero, generator) -> env actions (B, k, d)."""


@dataclass
class EvalResult:
    returns: list[float]
    lengths: list[float]
    successes: list[float]  # empty where the task defines no success

    def totals(self) -> torch.Tensor:
        """(return sum, return^2 sum, length sum, count, success sum, success count): reducible across ranks."""
        r = np.asarray(self.returns)
        return torch.tensor([r.sum(), (r**2).sum(), sum(self.lengths), len(r), sum(self.successes), len(self.successes)],
                            dtype=torch.float64)

    @staticmethod
    def summary_of_totals(totals: torch.Tensor, prefix: str) -> dict[str, float]:
        return_sum, square_sum, length_sum, count, success_sum, success_count = totals.tolist()
        mean = return_sum / count
        out = {f"{prefix}/return_mean": mean, f"{prefix}/return_std": max(square_sum / count - mean**2, 0.0) ** 0.5,
               f"{prefix}/length_mean": length_sum / count, f"{prefix}/episodes": count}
        if success_count:
            out[f"{prefix}/success_rate"] = success_sum / success_count
        return out

    def summary(self, prefix: str) -> dict[str, float]:
        return self.summary_of_totals(self.totals(), prefix)


@torch.no_grad()
def evaluate(act: ActFn, env: BatchedEnv, num_episodes: int, *, zero: bool, seed: int = 0) -> EvalResult:
    """Run ceil(num_episodes / num_envs) episodes in every env (no bias toward short episodes)."""
    quota = math.ceil(num_episodes / env.num_envs)
    counts = np.zeros(env.num_envs, dtype=int)
    result = EvalResult([], [], [])
    generator = torch.Generator(device=env.device).manual_seed(seed)
    obs = env.reset(seed=seed)
    while counts.min() < quota:
        step = env.step(act(obs, zero, generator))
        for j in torch.nonzero(~torch.isnan(step.episode_return)).flatten().tolist():
            if counts[j] < quota:
                counts[j] += 1
                result.returns.append(step.episode_return[j].item())
                result.lengths.append(step.episode_length[j].item())
                if not math.isnan(step.success[j].item()):
                    result.successes.append(step.success[j].item())
        obs = step.obs
    return result
