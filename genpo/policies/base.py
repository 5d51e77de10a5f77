"""What every genpo policy (flow, DDPM/DDIM diffusion for DPPO, Gaussian for PPO) shares:
normalisers, the action-chunk layout, post-processing, and writing its LeRobot-style directory.

A policy directory holds config.json ("type": genpo_flow | genpo_diffusion | genpo_gaussian),
model.safetensors and LeRobot's processor files; `genpo.checkpoint.load_policy` reads it once and
dispatches on "type" through genpo.policies.POLICY_TYPES.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from safetensors.torch import save_file
from torch import Tensor, nn

from genpo.lerobot.processors import write_processor_files
from genpo.normalize import Normalizer
from genpo.samplers.base import SampleOutput

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

SHARED_FIELDS = ("obs_dim", "action_dim", "horizon", "n_action_steps", "hidden_dim", "num_blocks", "time_embed_dim",
                 "obs_norm", "action_norm", "obs_key", "action_key")


@dataclass
class ChunkPolicyConfig:
    """The fields every policy shares with FlowPolicyConfig (same meaning, same defaults)."""

    obs_dim: int = 0
    action_dim: int = 0
    horizon: int = 1
    n_action_steps: int = 1
    hidden_dim: int = 256
    num_blocks: int = 3
    time_embed_dim: int = 32
    obs_norm: str = "mean_std"
    action_norm: str = "min_max"
    obs_key: str = "observation.state"
    action_key: str = "action"
    policy_type: ClassVar[str] = ""  # config.json "type"; set by each policy's config class

    @property
    def flat_action_dim(self) -> int:
        return self.horizon * self.action_dim

    @property
    def executed_dim(self) -> int:
        """Entries of the flattened chunk the env executes (the first n_action_steps actions)."""
        return self.n_action_steps * self.action_dim

    def validate(self) -> None:
        if self.obs_dim < 1 or self.action_dim < 1:
            raise ValueError(f"obs_dim and action_dim must be set (got {self.obs_dim}, {self.action_dim})")
        if not 1 <= self.n_action_steps <= self.horizon:
            raise ValueError(f"need 1 <= n_action_steps <= horizon, got {self.n_action_steps} and {self.horizon}")

    @classmethod
    def like(cls, other, **fields):
        """This config type with the shared fields of `other` (e.g. pretraining's FlowPolicyConfig)."""
        return cls(**{name: getattr(other, name) for name in SHARED_FIELDS}, **fields)

    def to_json_dict(self) -> dict[str, Any]:
        """config.json: "type", every field, and LeRobot's input/output features."""
        return {
            "type": self.policy_type,
            **dataclasses.asdict(self),
            "input_features": {self.obs_key: {"type": "STATE", "shape": [self.obs_dim]}},
            "output_features": {self.action_key: {"type": "ACTION", "shape": [self.action_dim]}},
        }


@dataclass
class PolicyOutput:
    env_actions: Tensor  # (B, k, d) unnormalised actions the env executes
    sample: SampleOutput  # the sampler's output in normalised, flattened action space


class ChunkPolicy(nn.Module):
    """Base of every policy: observation/action normalisers, post-processing, writing its directory.

    Subclasses set `config_class` and `objective` (the pretraining objective that makes them, which
    is also the suffix of a task's checkpoint for them: checkpoints/<task>_<objective>, none for
    "flow") and implement `sample`."""

    config_class: type[ChunkPolicyConfig] = ChunkPolicyConfig
    objective: ClassVar[str] = ""

    def __init__(self, config: ChunkPolicyConfig, stats: Mapping[str, Mapping[str, np.ndarray]] | None = None):
        super().__init__()
        config.validate()
        self.config = config
        self.pretrained = False  # True once weights came from a checkpoint (genpo.checkpoint.load_policy)
        self.description = f"a freshly initialised {type(self).__name__}"
        self.obs_normalizer = Normalizer(config.obs_norm, config.obs_dim, stats and stats[config.obs_key])
        self.action_normalizer = Normalizer(config.action_norm, config.action_dim, stats and stats[config.action_key])

    def normalized_chunks(self, actions: Tensor) -> Tensor:
        """Raw action chunks (B, H, d) -> flattened normalised (B, H*d)."""
        return self.action_normalizer.normalize(actions).flatten(1)

    def to_env_actions(self, flat_action: Tensor) -> Tensor:
        """(B, H*d) normalised -> (B, k, d) env units (the first k actions of the chunk)."""
        cfg = self.config
        chunk = self.action_normalizer.unnormalize(flat_action.reshape(-1, cfg.horizon, cfg.action_dim))
        return chunk[:, : cfg.n_action_steps]

    @property
    def device(self) -> torch.device:
        return self.obs_normalizer.mean.device

    def latent(self, batch: int, *, zero: bool = False, generator: torch.Generator | None = None) -> Tensor:
        """The latent of `self.sampler` for `batch` samples: zeros, or latent_scale * N(0, I)."""
        shape = self.sampler.latent_shape(batch, self.config.flat_action_dim)
        if zero:
            return torch.zeros(shape, device=self.device)
        scale = self.sampler.latent_scale()
        noise = torch.randn(shape, generator=generator, device=self.device)
        return noise if isinstance(scale, float) and scale == 1.0 else noise * torch.as_tensor(scale).to(noise)

    def sample(self, obs: Tensor, latent: Tensor | None = None, *, zero: bool = False,
               generator: torch.Generator | None = None) -> PolicyOutput:
        """Action chunks for raw observations (B, obs_dim); `zero`: the deterministic reading (z = 0)."""
        raise NotImplementedError

    # ---- policy directories -------------------------------------------------------------------
    def write_checkpoint(self, directory: Path) -> None:
        """Write config.json, model.safetensors and LeRobot's processor files into `directory` (a
        temporary directory: genpo.checkpoint.save_policy makes the write atomic)."""
        state = {k: v.detach().to("cpu").contiguous() for k, v in self.state_dict().items()}
        (directory / CONFIG_NAME).write_text(json.dumps(self.config.to_json_dict(), indent=2))
        save_file(state, directory / WEIGHTS_NAME, metadata={"format": "pt", "type": self.config.policy_type})
        write_processor_files(self, directory)
