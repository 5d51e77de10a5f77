"""A flow policy: normalisers + velocity network + a sampler, acting on raw env observations.

    policy = FlowPolicy(FlowPolicyConfig(obs_dim=11, action_dim=3), stats)
    out = policy.sample(obs)               # out.env_actions (B, k, d) in env units
    policy.set_sampler(SamplerConfig(kind="reversible", sigma=0.9, tau=0.05))
    out = policy.sample(obs)               # out.sample.stored: the pair, out.sample.log_prob
    policy.log_prob(obs, out.sample.stored) == out.sample.log_prob   (to round-off)

The density lives in the policy's normalised action space (flattened chunk of H * d numbers);
unnormalising and taking the first k actions of the chunk is post-processing outside the density.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import ClassVar, Mapping

import numpy as np
import torch
from torch import Tensor, nn

from genpo.flows import VelocityMLP, flow_matching_loss
from genpo.policy_common import ChunkPolicy, ChunkPolicyConfig
from genpo.samplers import EulerSampler, ReversibleSampler, SampleOutput, VelocityFn

POLICY_TYPE = "genpo_flow"


@dataclass
class SamplerConfig:
    kind: str = "euler"  # euler (deterministic ODE) | reversible (GenPO++)
    num_steps: int = 10  # N network evaluations per action chunk
    sigma: float = 0.9  # reversible: history coefficient
    init: str = "pretrained"  # reversible: pretrained (B, Euler start + tau) | independent (A)
    coefficient: str = "consistent"  # reversible: c_i = h_i + sigma h_{i-1} | dt (c_i = h_i)
    tau: float = 0.05  # reversible init B: history noise, normalised action units
    learn_tau: bool = False  # learn log tau (per dimension) during fine-tuning
    grid: list[float] | None = None  # time grid t_0 = 0 < ... < t_N = 1; uniform if None


@dataclass
class FlowPolicyConfig(ChunkPolicyConfig):
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    policy_type: ClassVar[str] = POLICY_TYPE


@dataclass
class PolicyOutput:
    env_actions: Tensor  # (B, k, d) unnormalised actions the env executes
    sample: SampleOutput  # the sampler's output in normalised, flattened action space


def build_sampler(cfg: SamplerConfig) -> EulerSampler | ReversibleSampler:
    if cfg.kind == "euler":
        return EulerSampler(cfg.num_steps, cfg.grid)
    if cfg.kind == "reversible":
        return ReversibleSampler(cfg.num_steps, cfg.sigma, cfg.init, cfg.coefficient, cfg.grid)
    raise ValueError(f"unknown sampler kind {cfg.kind!r}; choose 'euler' or 'reversible'")


class FlowPolicy(ChunkPolicy):
    """`velocity_net`: any module (x, obs_normalised, t) -> v in our time convention (default: a fresh
    VelocityMLP). If it has `time_grid(num_steps) -> list[float]` (e.g. a converted DDIM network that may
    only be evaluated at its trained timesteps), that grid is used whenever the sampler config gives none."""

    config_class = FlowPolicyConfig

    def __init__(self, config: FlowPolicyConfig, stats: Mapping[str, Mapping[str, np.ndarray]] | None = None,
                 velocity_net: nn.Module | None = None):
        super().__init__(config, stats)
        self.velocity_net = velocity_net if velocity_net is not None else VelocityMLP(
            config.obs_dim, config.flat_action_dim, config.hidden_dim, config.num_blocks, config.time_embed_dim)
        self.log_tau: nn.Parameter | None = None
        self.set_sampler(config.sampler)

    # ---- sampler --------------------------------------------------------------------------
    def set_sampler(self, cfg: SamplerConfig) -> None:
        """Switch the sampler (e.g. Euler -> GenPO++ reversible). Init B adds a per-dim log tau."""
        grid_of = getattr(self.velocity_net, "time_grid", None)
        if grid_of is not None and cfg.grid is None:  # the network's own grid; the config keeps grid=None
            self.sampler = build_sampler(dataclasses.replace(cfg, grid=list(grid_of(cfg.num_steps))))
        else:
            self.sampler = build_sampler(cfg)
        self.config.sampler = cfg
        if cfg.kind == "reversible" and cfg.init == "pretrained":
            # on the policy's device: set_sampler runs after the policy moved to accelerator.device
            log_tau = torch.full((self.config.flat_action_dim,), math.log(cfg.tau), device=self.obs_normalizer.mean.device)
            self.log_tau = nn.Parameter(log_tau, requires_grad=cfg.learn_tau)
        else:
            self.log_tau = None

    def sampler_params(self) -> dict:
        return {"log_tau": self.log_tau} if isinstance(self.sampler, ReversibleSampler) else {}

    # ---- the flow ---------------------------------------------------------------------------
    def velocity(self, obs: Tensor) -> VelocityFn:
        """v(x, t) with the (raw) observation normalised and bound in."""
        obs_n = self.obs_normalizer.normalize(obs)
        return lambda x, t: self.velocity_net(x, obs_n, t)

    def flow_loss(self, obs: Tensor, actions: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Flow-matching loss on raw observations and raw action chunks (B, H, d)."""
        a = self.action_normalizer.normalize(actions).flatten(1)
        return flow_matching_loss(self.velocity_net, self.obs_normalizer.normalize(obs), a, generator)

    def latent(self, batch: int, *, zero: bool = False, generator: torch.Generator | None = None) -> Tensor:
        shape = self.sampler.latent_shape(batch, self.config.flat_action_dim)
        device = self.obs_normalizer.mean.device
        if zero:
            return torch.zeros(shape, device=device)
        return torch.randn(shape, generator=generator, device=device)

    def sample(self, obs: Tensor, latent: Tensor | None = None, *, zero: bool = False,
               generator: torch.Generator | None = None) -> PolicyOutput:
        """Sample action chunks for raw observations (B, obs_dim); `zero` = zero sampling (z = 0)."""
        if latent is None:
            latent = self.latent(obs.shape[0], zero=zero, generator=generator).to(obs.dtype)
        out = self.sampler.sample(self.velocity(obs), latent, **self.sampler_params())
        return PolicyOutput(env_actions=self.to_env_actions(out.action), sample=out)

    def log_prob(self, obs: Tensor, stored: Tensor) -> Tensor:
        """Exact log-density of a stored sample (the GenPO++ pair) given raw observations."""
        if not isinstance(self.sampler, ReversibleSampler):
            raise TypeError(f"{type(self.sampler).__name__} is deterministic: it has no log-prob; use the reversible sampler")
        return self.sampler.log_prob(self.velocity(obs), stored, **self.sampler_params())
