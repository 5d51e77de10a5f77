"""A flow policy: normalisers + velocity network + a sampler, acting on raw env observations.

    policy = FlowPolicy(FlowPolicyConfig(obs_dim=11, action_dim=3), stats)
    out = policy.sample(obs)               # out.env_actions (B, k, d) in env units
    policy.set_sampler(SamplerConfig(kind="reversible", sigma=0.9, tau=0.05))
    out = policy.sample(obs)               # out.sample.stored: the pair, out.sample.log_prob
    policy.log_prob(obs, out.sample.stored) == out.sample.log_prob   (to round-off)

The density lives in the policy's normalised action space (flattened chunk of H * d numbers);
unnormalising and taking the first k actions of the chunk is post-processing outside the density.
Flow matching (genpopp.md): linear interpolant x_t = t a + (1 - t) eps, velocity target a - eps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from genpo.networks import VelocityMLP
from genpo.policies.base import ChunkPolicy, ChunkPolicyConfig, PolicyOutput
from genpo.samplers import SamplerConfig, VelocityFn, build_sampler

POLICY_TYPE = "genpo_flow"


@dataclass
class FlowPolicyConfig(ChunkPolicyConfig):
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    policy_type: ClassVar[str] = POLICY_TYPE


def flow_matching_loss(net: nn.Module, obs: Tensor, actions: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Conditional flow-matching loss E ||v(x_t, s, t) - (a - eps)||^2, t ~ U(0, 1)."""
    eps = torch.randn(actions.shape, generator=generator, dtype=actions.dtype, device=actions.device)
    t = torch.rand(actions.shape[0], generator=generator, dtype=actions.dtype, device=actions.device)
    x_t = t[:, None] * actions + (1 - t[:, None]) * eps
    return (net(x_t, obs, t) - (actions - eps)).pow(2).mean()


class FlowPolicy(ChunkPolicy):
    """`velocity_net`: any module (x, obs_normalised, t) -> v in our time convention (default: a fresh
    VelocityMLP). If it has `time_grid(num_steps) -> list[float]` (e.g. a converted DDIM network that may
    only be evaluated at its trained timesteps), that grid is used whenever the sampler config gives none."""

    config_class = FlowPolicyConfig
    objective = "flow"

    def __init__(self, config: FlowPolicyConfig, stats: Mapping[str, Mapping[str, np.ndarray]] | None = None,
                 velocity_net: nn.Module | None = None):
        super().__init__(config, stats)
        self.velocity_net = velocity_net if velocity_net is not None else VelocityMLP(
            config.obs_dim, config.flat_action_dim, config.hidden_dim, config.num_blocks, config.time_embed_dim)
        self._sampler_param_names: tuple[str, ...] = ()
        self.set_sampler(config.sampler)

    # ---- sampler --------------------------------------------------------------------------
    def set_sampler(self, cfg: SamplerConfig) -> None:
        """Switch the sampler (e.g. Euler -> GenPO++ reversible) and the parameters it adds (log tau)."""
        grid_of = getattr(self.velocity_net, "time_grid", None)
        if grid_of is not None and cfg.grid is None:  # the network's own grid; the config keeps grid=None
            self.sampler = build_sampler(dataclasses.replace(cfg, grid=list(grid_of(cfg.num_steps))))
        else:
            self.sampler = build_sampler(cfg)
        self.config.sampler = cfg
        for name in self._sampler_param_names:
            delattr(self, name)
        # on the policy's device: set_sampler runs after the policy moved to accelerator.device
        params = self.sampler.parameters(self.config.flat_action_dim, self.device)
        for name, param in params.items():
            self.register_parameter(name, param)
        self._sampler_param_names = tuple(params)

    def sampler_params(self) -> dict[str, nn.Parameter]:
        """The sampler's parameters held by this policy (e.g. {"log_tau": ...}), passed to every sampler call."""
        return {name: getattr(self, name) for name in self._sampler_param_names}

    # ---- the flow ---------------------------------------------------------------------------
    def velocity(self, obs: Tensor) -> VelocityFn:
        """v(x, t) with the (raw) observation normalised and bound in."""
        obs_n = self.obs_normalizer.normalize(obs)
        return lambda x, t: self.velocity_net(x, obs_n, t)

    def bc_loss(self, obs: Tensor, actions: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Behaviour cloning by flow matching, on raw observations and raw action chunks (B, H, d)."""
        return flow_matching_loss(self.velocity_net, self.obs_normalizer.normalize(obs), self.normalized_chunks(actions),
                                  generator)

    def sample(self, obs: Tensor, latent: Tensor | None = None, *, zero: bool = False,
               generator: torch.Generator | None = None) -> PolicyOutput:
        """Sample action chunks for raw observations (B, obs_dim); `zero` = zero sampling (z = 0)."""
        if latent is None:
            latent = self.latent(obs.shape[0], zero=zero, generator=generator).to(obs.dtype)
        out = self.sampler.sample(self.velocity(obs), latent, **self.sampler_params())
        return PolicyOutput(env_actions=self.to_env_actions(out.action), sample=out)

    def log_prob(self, obs: Tensor, stored: Tensor) -> Tensor:
        """Exact log-density of a stored sample (the GenPO++ pair) given raw observations."""
        return self.sampler.log_prob(self.velocity(obs), stored, **self.sampler_params())
