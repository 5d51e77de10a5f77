"""How faithfully an algorithm's sampler reproduces the pretrained policy before any update.

Fine-tuning starts by switching the checkpoint's own sampler (its Euler ODE, or LeRobot's DDIM) to the
algorithm's (GenPO++'s reversible two-step sampler, ReinFlow's K-step chain, ...). At z = 0 both are
deterministic maps from an observation to an action, so their gap is measurable before any update:

    deviation = RMS over observations and executed action entries of (a_converted - a_own),

in the policy's normalised action units (min/max-normalised actions span [-1, 1]). Observations come
from a short zero-sampling rollout of the pretrained policy in the training envs (inside
`env.evaluation()`, so a curriculum does not move), i.e. the states fine-tuning starts from.

Threshold 0.0175, from the conversion table (docs/conversion.md, benchmarks/conversion_fidelity.py): on the
shipped Hopper and PushT flow checkpoints every conversion with an RMS deviation of 0.0187 or more lost task
score beyond noise (Hopper sigma 0.9: 0.0191, return -9 %; PushT sigma 0.95: 0.0187, success 0.22 -> 0.125),
and every one at 0.0165 or less kept it within noise (Hopper sigma 0.8 / 0.7, PushT sigma 0.9 / 0.8 / 0.7).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from finetune.algos import Algorithm
from genpo.config import resolve_path
from genpo.data import read_dataset
from genpo.envs import BatchedEnv
from genpo.policies import ChunkPolicy
from genpo.task import TaskConfig

WARN_ABOVE = 0.0175


@dataclass
class ConversionCheck:
    rms: float  # RMS deviation of the executed actions, normalised units
    max: float  # largest single-entry deviation
    observations: int
    warnings: list[str]

    def summary(self) -> dict:
        return {"rms": self.rms, "max": self.max, "observations": self.observations, "warnings": self.warnings}


def conversion_text(summary: dict) -> str:
    """The check as printed at the start of a run and written into its report."""
    text = (f"conversion check: zero-sampling actions deviate from the checkpoint's own sampler by RMS {summary['rms']:.4f}, "
            f"max {summary['max']:.4f} (normalised action units, {summary['observations']} rollout observations)")
    return "\n".join([text, *(f"WARNING: {w}" for w in summary["warnings"])])


def dataset_observations(task: TaskConfig, obs_dim: int, limit: int, seed: int) -> Tensor | None:
    """Up to `limit` observations drawn (seeded) from the task's dataset, or None when it has none of this size."""
    path = resolve_path(task.dataset) if task.dataset else None
    if path is None or not path.is_dir():
        return None
    obs = torch.tensor(read_dataset(path).columns[task.obs_key], dtype=torch.float32)  # a copy: arrow arrays are read-only
    if obs.ndim != 2 or obs.shape[1] != obs_dim:
        return None
    index = torch.randperm(obs.shape[0], generator=torch.Generator().manual_seed(seed))[:limit]
    return obs[index]


@torch.no_grad()
def start_observations(policy: ChunkPolicy, env: BatchedEnv, steps: int, seed: int) -> Tensor:
    """Observations of `steps` zero-sampling policy steps of the pretrained policy in every env."""
    observations = []
    with env.evaluation():
        obs = env.reset(seed=seed)
        for _ in range(steps):
            observations.append(obs)
            obs = env.step(policy.sample(obs, zero=True).env_actions).obs
    return torch.cat(observations)


@torch.no_grad()
def zero_sampling_actions(policy: ChunkPolicy, obs: Tensor, act=None) -> Tensor:
    """Executed actions at z = 0 in the policy's normalised units (B, k * d); `act` defaults to the policy's own."""
    actions = policy.sample(obs, zero=True).env_actions if act is None else act(obs, True, None)
    return policy.action_normalizer.normalize(actions).flatten(1)


def check_conversion(own: Tensor, algorithm: Algorithm, obs: Tensor, notes: list[str]) -> ConversionCheck:
    """Compare `own` (zero_sampling_actions of the policy before the algorithm switched its sampler) with the
    algorithm's zero-sampling actions on the same observations; `notes` are the algorithm's own warnings."""
    converted = zero_sampling_actions(algorithm.policy, obs, algorithm.act_for_eval)
    gap = converted - own
    rms, largest = gap.pow(2).mean().sqrt().item(), gap.abs().max().item()
    warnings = list(notes)
    if not rms <= WARN_ABOVE:
        warnings.append(f"the {algorithm.name} sampler moves the pretrained policy's zero-sampling actions by RMS "
                        f"{rms:.3f} > {WARN_ABOVE} before any update: fine-tuning starts from a different (usually worse) "
                        "policy; see docs/conversion.md for settings that keep it")
    return ConversionCheck(rms, largest, obs.shape[0], warnings)
