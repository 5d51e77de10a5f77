"""A Gaussian MLP policy (the PPO baseline), BC-pretrained on the same data as the flow policy.

    python pretrain/run.py objective=gaussian

mean(s): the flow network's residual trunk (same width and depth) on the normalised observation,
predicting the flattened normalised action chunk (H * d); std: a state-independent learned vector,
std = clamp(exp(log_std), min_std, max_std). Pretraining maximises the likelihood of the
demonstrated chunks; fine-tuning (finetune/algos/gaussian.py) is standard PPO.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from genpo.networks import GaussianMLP
from genpo.policies.base import ChunkPolicy, ChunkPolicyConfig, PolicyOutput
from genpo.samplers.base import SampleOutput, normal_log_density

GAUSSIAN_POLICY_TYPE = "genpo_gaussian"


@dataclass
class GaussianPolicyConfig(ChunkPolicyConfig):
    init_std: float = 1.0  # std at initialisation (pretraining)
    min_std: float = 0.01
    max_std: float = 1.0
    noise_clip: float = 3.0  # clip the standard-normal noise when sampling (DPPO's randn_clip_value); 0: off
    policy_type: ClassVar[str] = GAUSSIAN_POLICY_TYPE


class GaussianPolicy(ChunkPolicy):
    config_class = GaussianPolicyConfig
    objective = "gaussian"

    def __init__(self, config: GaussianPolicyConfig, stats: Mapping[str, Mapping[str, np.ndarray]] | None = None):
        super().__init__(config, stats)
        self.mean_net = GaussianMLP(config.obs_dim, config.flat_action_dim, config.hidden_dim, config.num_blocks)
        self.log_std = nn.Parameter(torch.full((config.flat_action_dim,), math.log(config.init_std)))

    def std(self) -> Tensor:
        return self.log_std.exp().clamp(self.config.min_std, self.config.max_std)

    def distribution(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """(mean (B, H*d), std (H*d,)) in the normalised action space."""
        return self.mean_net(self.obs_normalizer.normalize(obs)), self.std()

    def sample(self, obs: Tensor, latent: Tensor | None = None, *, zero: bool = False,
               generator: torch.Generator | None = None) -> PolicyOutput:
        """mean + std * clip(eps); zero=True: the mean. stored = the flattened chunk (B, H*d)."""
        mean, std = self.distribution(obs)
        if latent is None:
            latent = (
                torch.zeros_like(mean)
                if zero
                else torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
            )
        noise = latent.clamp(-self.config.noise_clip, self.config.noise_clip) if self.config.noise_clip > 0 else latent
        action = mean + std * noise
        return PolicyOutput(self.to_env_actions(action), SampleOutput(action, action, latent, None))

    def bc_loss(self, obs: Tensor, actions: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Negative log-likelihood of the demonstrated chunks, per entry."""
        a = self.normalized_chunks(actions)
        mean, std = self.distribution(obs)
        return -normal_log_density(a, mean, std).mean()
