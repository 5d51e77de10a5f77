"""LeRobot config for genpo's flow policy: the fields of genpo.policies.flow.FlowPolicyConfig, plus LeRobot's.

A checkpoint written by genpo.checkpoint.save_policy (config.json "type": "genpo_flow") parses into
this class, and one written by LeRobot (lerobot-train) reads back with genpo.checkpoint.load_policy,
which ignores LeRobot's extra keys. Keep the FlowPolicyConfig fields below in sync (a test checks).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from lerobot.configs.policies import PreTrainedConfig
from lerobot.configs.types import FeatureType
from lerobot.optim.optimizers import AdamWConfig

from genpo.policies.flow import POLICY_TYPE, FlowPolicyConfig, SamplerConfig


@PreTrainedConfig.register_subclass(POLICY_TYPE)
@dataclass
class GenpoFlowConfig(PreTrainedConfig):
    # ---- genpo.policies.flow.FlowPolicyConfig (0 = take the dimension from input/output_features) ----
    obs_dim: int = 0
    action_dim: int = 0
    horizon: int = 16
    n_action_steps: int = 8
    hidden_dim: int = 256
    num_blocks: int = 3
    time_embed_dim: int = 32
    obs_norm: str = "mean_std"  # min_max | mean_std | identity
    action_norm: str = "min_max"
    obs_key: str = "observation.state"
    action_key: str = "action"
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    # ---- training with lerobot-train (AdamW, constant LR) ----
    optimizer_lr: float = 1e-3
    optimizer_weight_decay: float = 1e-6
    optimizer_grad_clip_norm: float = 10.0

    def __post_init__(self):
        super().__post_init__()
        if self.n_obs_steps != 1:
            raise ValueError(f"genpo_flow conditions on the current observation only (n_obs_steps=1), got {self.n_obs_steps}")

    # ---- what genpo needs ----
    def flow_config(self) -> FlowPolicyConfig:
        names = {f.name for f in dataclasses.fields(FlowPolicyConfig)}
        values = {name: getattr(self, name) for name in names}
        values["sampler"] = dataclasses.replace(self.sampler)
        return FlowPolicyConfig(**values)

    # ---- PreTrainedConfig's abstract interface ----
    @property
    def observation_delta_indices(self) -> None:
        return None  # the current observation only

    @property
    def action_delta_indices(self) -> list[int]:
        return list(range(self.horizon))  # the chunk starts at the current step

    @property
    def reward_delta_indices(self) -> None:
        return None

    def get_optimizer_preset(self) -> AdamWConfig:
        return AdamWConfig(lr=self.optimizer_lr, weight_decay=self.optimizer_weight_decay,
                           grad_clip_norm=self.optimizer_grad_clip_norm)

    def get_scheduler_preset(self) -> None:
        return None

    def validate_features(self) -> None:
        """Take obs_dim / action_dim from the features (when 0) and check them."""
        inputs, outputs = self.input_features or {}, self.output_features or {}
        if self.obs_key not in inputs:
            images = [k for k, ft in inputs.items() if ft.type is FeatureType.VISUAL]
            extra = f"; camera inputs ({', '.join(images)}) are not supported" if images else ""
            raise ValueError(f"genpo_flow needs the state input {self.obs_key!r}, got inputs {sorted(inputs)}{extra}")
        if self.action_key not in outputs:
            raise ValueError(f"genpo_flow needs the output {self.action_key!r}, got {sorted(outputs)}")
        for name, feature in (("obs_dim", inputs[self.obs_key]), ("action_dim", outputs[self.action_key])):
            dim = int(feature.shape[-1])
            if getattr(self, name) == 0:
                setattr(self, name, dim)
            elif getattr(self, name) != dim:
                raise ValueError(f"{name}={getattr(self, name)} but the feature has shape {tuple(feature.shape)}")
        self.flow_config().validate()
