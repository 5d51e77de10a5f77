"""Algorithm registry: name -> builder(policy, cfg, calibration_obs) -> Algorithm."""

from __future__ import annotations

from typing import Callable

from torch import Tensor

from finetune.algos.base import Algorithm
from finetune.algos.dppo import DPPO
from finetune.algos.fpo import FPO
from finetune.algos.gaussian import GaussianPPO
from finetune.algos.genpopp import GenPOpp
from finetune.algos.reinflow import ReinFlow
from finetune.config import FinetuneConfig
from genpo.checkpoint import load_policy
from genpo.config import resolve_path
from genpo.diffusion import DiffusionPolicy
from genpo.gaussian import GaussianPolicy
from genpo.policy import FlowPolicy


def start_policy(policy, cfg: FinetuneConfig, kind: type, objective: str):
    """The policy a baseline fine-tunes. DPPO needs a diffusion policy and PPO a Gaussian one: with no
    policy.path, the task's checkpoint with the suffix _<objective> (e.g. checkpoints/hopper_medium_ddpm,
    made by `python pretrain/run.py objective=<objective>`) replaces the flow checkpoint."""
    if isinstance(policy, kind):
        return policy
    hint = f"pretrain one with `python pretrain/run.py task={cfg.task.name} objective={objective}`"
    if cfg.policy.path or cfg.policy.from_scratch:
        source = f"policy.path={cfg.policy.path}" if cfg.policy.path else "policy.from_scratch=true"
        raise ValueError(f"algo={cfg.algo} fine-tunes a {kind.__name__}, but {source} gives a {type(policy).__name__}; {hint}")
    path = resolve_path(f"{cfg.task.checkpoint}_{objective}")
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"algo={cfg.algo} needs the {objective} checkpoint {path}; {hint} save_to={cfg.task.checkpoint}_{objective}, "
                                f"or give policy.path=")
    device = policy.obs_normalizer.mean.device
    return load_policy(path, obs_dim=policy.config.obs_dim, action_dim=policy.config.action_dim, device=device)


def flow_policy(policy, cfg: FinetuneConfig):
    """GenPO++, ReinFlow and FPO++ fine-tune flow policies (genpo_flow, or converted LeRobot diffusion)."""
    if isinstance(policy, (DiffusionPolicy, GaussianPolicy)):
        raise ValueError(f"algo={cfg.algo} fine-tunes a flow policy, but policy.path={cfg.policy.path} holds a "
                         f"{type(policy).__name__} (those are for algo=dppo / algo=ppo)")
    return policy


ALGORITHMS: dict[str, Callable[[FlowPolicy, FinetuneConfig, Tensor], Algorithm]] = {
    "genpopp": lambda policy, cfg, obs: GenPOpp(flow_policy(policy, cfg), cfg.genpopp, obs),
    "reinflow": lambda policy, cfg, obs: ReinFlow(flow_policy(policy, cfg), cfg.reinflow),
    "dppo": lambda policy, cfg, obs: DPPO(start_policy(policy, cfg, DiffusionPolicy, "ddpm"), cfg.dppo),
    "fpo": lambda policy, cfg, obs: FPO(flow_policy(policy, cfg), cfg.fpo),
    "ppo": lambda policy, cfg, obs: GaussianPPO(start_policy(policy, cfg, GaussianPolicy, "gaussian"), cfg.gaussian),
}


def check_algorithm(name: str) -> None:
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; choose one of: {', '.join(sorted(ALGORITHMS))}")


def build_algorithm(policy: FlowPolicy, cfg: FinetuneConfig, calibration_obs: Tensor) -> Algorithm:
    check_algorithm(cfg.algo)
    return ALGORITHMS[cfg.algo](policy, cfg, calibration_obs)
