"""A DDPM/DDIM diffusion policy (epsilon prediction) for DPPO, with the flow policy's network.

    python pretrain/run.py objective=ddpm                 # same data, network and updates as the flow
    policy = DiffusionPolicy(DiffusionPolicyConfig(obs_dim=11, action_dim=3), stats)
    out = policy.sample(obs)                               # out.env_actions, out.sample.stored (chain)

The noise network is genpo.networks.VelocityMLP (same width, depth and inputs [x, obs, time embedding]);
it predicts epsilon at network time t = k / num_train_timesteps. Schedules come from diffusers
(genpo.samplers.ddpm). With `diffusion.ft_denoising_steps = m > 0` (DPPO), the first S - m denoising
steps use `base_eps_net`, a frozen copy of the pretrained network, and only the last m use `eps_net`;
both are saved, so the fine-tuned policy samples exactly as it was trained.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from genpo.networks import VelocityMLP
from genpo.policies.base import ChunkPolicy, ChunkPolicyConfig, PolicyOutput
from genpo.samplers.ddpm import DenoisingSampler

DIFFUSION_POLICY_TYPE = "genpo_diffusion"


@dataclass
class DiffusionConfig:
    num_train_timesteps: int = 20  # DPPO's locomotion DDPM: 20 denoising steps
    beta_schedule: str = "squaredcos_cap_v2"  # cosine schedule (DPPO's cosine_beta_schedule)
    ddim_steps: int = 0  # 0: DDPM over every trained timestep; > 0: DDIM with this many steps
    eta: float = 1.0  # DDIM only
    x0_clip: float = 1.0  # clip x0_hat to +-this (0: off)
    noise_clip: float = 3.0  # clip the sampling noise to +-this (0: off)
    final_clip: float = 0.0  # clip the action to +-this (0: off; DPPO's gym configs leave it off)
    min_sampling_std: float = 0.1  # exploration floor of the transition std when sampling
    min_logprob_std: float = 0.1  # floor of the transition std in log-probs
    ft_denoising_steps: int = 0  # > 0: only the last this many steps use the fine-tuned network


@dataclass
class DiffusionPolicyConfig(ChunkPolicyConfig):
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    policy_type: ClassVar[str] = DIFFUSION_POLICY_TYPE


class DiffusionPolicy(ChunkPolicy):
    config_class = DiffusionPolicyConfig
    objective = "ddpm"

    def __init__(self, config: DiffusionPolicyConfig, stats: Mapping[str, Mapping[str, np.ndarray]] | None = None):
        super().__init__(config, stats)
        self.eps_net = VelocityMLP(config.obs_dim, config.flat_action_dim, config.hidden_dim, config.num_blocks,
                                   config.time_embed_dim)
        self.base_eps_net: VelocityMLP | None = None
        self.set_diffusion(config.diffusion)

    # ---- sampler ------------------------------------------------------------------------------
    def set_diffusion(self, cfg: DiffusionConfig) -> None:
        """(Re)build the sampler; a first ft_denoising_steps > 0 freezes a copy of the current network
        for the earlier steps."""
        self.sampler = DenoisingSampler.from_config(cfg)
        self.config.diffusion = cfg
        if self.split > 0 and self.base_eps_net is None:
            self.base_eps_net = copy.deepcopy(self.eps_net).requires_grad_(False)
        elif self.split == 0:
            self.base_eps_net = None

    @property
    def split(self) -> int:
        """Index of the first chain step that uses the fine-tuned network (0: all of them)."""
        return self.sampler.split

    def eps_fn(self, obs: Tensor):
        """eps_hat(x, i) with the (raw) observation normalised and bound in."""
        obs_n = self.obs_normalizer.normalize(obs)

        def eps(x: Tensor, i: int) -> Tensor:
            net = self.base_eps_net if i < self.split else self.eps_net
            return net(x, obs_n, self.sampler.time(i, x))

        return eps

    def sample(self, obs: Tensor, latent: Tensor | None = None, *, zero: bool = False,
               generator: torch.Generator | None = None, deterministic: bool | None = None) -> PolicyOutput:
        """Stochastic chain (training-time exploration), or with zero=True the deterministic chain from
        x_T = 0; deterministic=True with zero=False: the deterministic chain from a random x_T.
        sample.stored: the states from the input of the first fine-tuned step to the action
        (B, m + 1, D); sample.log_prob: per-entry log-probs of those transitions (B, m, D)."""
        if latent is None:
            latent = self.latent(obs.shape[0], zero=zero, generator=generator).to(obs.dtype)
        out = self.sampler.sample(self.eps_fn(obs), latent, deterministic=zero if deterministic is None else deterministic)
        return PolicyOutput(self.to_env_actions(out.action), out)

    def log_prob(self, obs: Tensor, chain: Tensor) -> Tensor:
        """Per-entry log-probs (B, m, D) of a stored chain's transitions (differentiable)."""
        return self.sampler.log_prob(self.eps_fn(obs), chain)

    # ---- pretraining ---------------------------------------------------------------------------
    def bc_loss(self, obs: Tensor, actions: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Epsilon-prediction loss E ||eps_hat(x_k, s, k/T) - eps||^2, k ~ U{0..T-1} (raw obs, chunks (B, H, d))."""
        a = self.normalized_chunks(actions)
        noise = torch.randn(a.shape, generator=generator, dtype=a.dtype, device=a.device)
        T = self.sampler.num_train_timesteps
        k = torch.randint(0, T, (a.shape[0],), generator=generator, device=a.device)
        x_k = self.sampler.add_noise(a, noise, k)
        eps = self.eps_net(x_k, self.obs_normalizer.normalize(obs), k.to(a.dtype) / T)
        return (eps - noise).pow(2).mean()
