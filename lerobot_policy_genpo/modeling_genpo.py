"""LeRobot policy wrapping genpo.policies.flow.FlowPolicy.

LeRobot normalises outside the policy (processor_genpo): select_action / predict_action_chunk / forward
receive normalised observations (and actions) and return normalised actions; the post-processor
unnormalises. The wrapped FlowPolicy's normaliser buffers are kept (and saved) so that
genpo.checkpoint.load_policy reads the same directory and acts identically on raw observations.

Weights are stored under FlowPolicy's own keys (velocity_net.*, obs_normalizer.*, ...), exactly as
genpo.checkpoint.save_policy writes them, so both loaders read both writers' files.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np
import torch
from lerobot.policies.pretrained import PreTrainedPolicy
from lerobot.utils.constants import ACTION
from safetensors.torch import load_file, save_file
from torch import Tensor

from genpo.policies.flow import POLICY_TYPE, FlowPolicy, flow_matching_loss
from lerobot_policy_genpo.configuration_genpo import GenpoFlowConfig

WEIGHTS_NAME = "model.safetensors"


class GenpoFlowPolicy(PreTrainedPolicy):
    config_class = GenpoFlowConfig
    name = POLICY_TYPE

    def __init__(self, config: GenpoFlowConfig, dataset_stats: dict | None = None, **kwargs):
        super().__init__(config)
        config.validate_features()
        self.config = config
        stats = None
        if dataset_stats:
            stats = {key: {name: np.asarray(torch.as_tensor(dataset_stats[key][name]).cpu(), dtype=np.float32)
                           for name in ("min", "max", "mean", "std")}
                     for key in (config.obs_key, config.action_key)}
        self.flow = FlowPolicy(config.flow_config(), stats)
        self._action_queue: deque[Tensor] = deque(maxlen=config.n_action_steps)

    def get_optim_params(self):
        return [p for p in self.flow.parameters() if p.requires_grad]

    def reset(self) -> None:
        self._action_queue = deque(maxlen=self.config.n_action_steps)

    def _observation(self, batch: dict[str, Tensor]) -> Tensor:
        obs = batch[self.config.obs_key]
        return obs[:, -1] if obs.ndim == 3 else obs  # (B, 1, obs_dim) -> (B, obs_dim)

    @torch.no_grad()
    def predict_action_chunk(self, batch: dict[str, Tensor], noise: Tensor | None = None) -> Tensor:
        """(B, n_action_steps, d) normalised actions; `noise` is the sampler's latent (B, D) or (B, 2, D)."""
        flow, cfg = self.flow, self.config
        obs = self._observation(batch)
        latent = flow.latent(obs.shape[0]).to(obs.dtype) if noise is None else noise.to(obs.device, obs.dtype)
        out = flow.sampler.sample(lambda x, t: flow.velocity_net(x, obs, t), latent, **flow.sampler_params())
        return out.action.reshape(-1, cfg.horizon, cfg.action_dim)[:, : cfg.n_action_steps]

    @torch.no_grad()
    def select_action(self, batch: dict[str, Tensor], noise: Tensor | None = None) -> Tensor:
        if not self._action_queue:
            self._action_queue.extend(self.predict_action_chunk(batch, noise=noise).transpose(0, 1))
        return self._action_queue.popleft()

    def forward(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict]:
        """Flow-matching loss on normalised observations and action chunks (B, horizon, d)."""
        actions = batch[ACTION if self.config.action_key == ACTION else self.config.action_key]
        loss = flow_matching_loss(self.flow.velocity_net, self._observation(batch), actions.flatten(1))
        return loss, {"flow_loss": loss.item()}

    # ---- weights under FlowPolicy's keys (= genpo.checkpoint's model.safetensors) ----
    def _save_pretrained(self, save_directory: Path, state_dict: dict[str, Tensor] | None = None) -> None:
        """LeRobot 0.6 passes a pre-gathered state_dict (this module's keys, "flow.*") under FSDP."""
        self.config._save_pretrained(save_directory)
        if state_dict is None:
            state_dict = self.flow.state_dict()
        else:
            state_dict = {k.removeprefix("flow."): v for k, v in state_dict.items()}
        state = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
        save_file(state, str(Path(save_directory) / WEIGHTS_NAME), metadata={"format": "pt", "type": POLICY_TYPE})

    @classmethod
    def _load_as_safetensor(cls, model: GenpoFlowPolicy, model_file: str, map_location: str, strict: bool):
        model.flow.load_state_dict(load_file(model_file, device=str(map_location)))
        return model
