"""A FlowPolicy around a converted velocity network (LeRobot checkpoints), same interface as ours.

What differs from a plain FlowPolicy:
- the velocity network is the converted one (e.g. DDIMVelocity), possibly with its own time grid;
- the normalisers reproduce LeRobot's processor statistics element by element (AffineNormalizer);
- post-processing takes the executed actions from `first_action` on (LeRobot's Diffusion Policy with
  n_obs_steps > 1 executes actions[n_obs_steps - 1 : n_obs_steps - 1 + n_action_steps]);
- saving writes the source format back (`write_checkpoint`, used by genpo.checkpoint.save_policy).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from genpo.lerobot.processors import AffineNormalizer, lerobot_affine, read_lerobot_normalization
from genpo.policies.flow import FlowPolicy, FlowPolicyConfig


class ConvertedFlowPolicy(FlowPolicy):
    def __init__(self, config: FlowPolicyConfig, velocity_net: nn.Module, obs_normalizer: nn.Module,
                 action_normalizer: nn.Module, *, first_action: int = 0, source: str | Path | None = None,
                 exporter: Callable[[ConvertedFlowPolicy, Path], None] | None = None):
        super().__init__(config, velocity_net=velocity_net)
        self.obs_normalizer, self.action_normalizer = obs_normalizer, action_normalizer
        if first_action + config.n_action_steps > config.horizon:
            raise ValueError(
                f"executed actions {first_action}..{first_action + config.n_action_steps} exceed the horizon {config.horizon}"
            )
        self.first_action = first_action
        self.source = None if source is None else str(source)
        self._exporter = exporter

    def to_env_actions(self, flat_action: Tensor) -> Tensor:
        cfg = self.config
        chunk = self.action_normalizer.unnormalize(flat_action.reshape(-1, cfg.horizon, cfg.action_dim))
        return chunk[:, self.first_action : self.first_action + cfg.n_action_steps]

    def write_checkpoint(self, directory: Path) -> None:
        """Write this policy in its source format into an (empty, temporary) directory."""
        if self._exporter is None:
            raise TypeError(f"{type(self.velocity_net).__name__} policies cannot be saved")
        self._exporter(self, Path(directory))


def lerobot_normalizers(
    directory: Path, obs_keys: list[str], features: dict, n_obs_steps: int, action_dim: int, action_key: str = "action"
) -> tuple[AffineNormalizer, AffineNormalizer]:
    """Observation normaliser over [obs_keys...] x n_obs_steps and action normaliser, from LeRobot's processors."""
    norm_map, stats, eps = read_lerobot_normalization(directory)

    def affine(key: str) -> tuple[Tensor, Tensor]:
        ft = features[key]
        mode = norm_map.get(ft["type"], "IDENTITY")
        return lerobot_affine(mode, stats.get(key), int(ft["shape"][0]), eps)

    parts = [affine(k) for k in obs_keys]
    offset = torch.cat([p[0] for p in parts]).repeat(n_obs_steps)
    scale = torch.cat([p[1] for p in parts]).repeat(n_obs_steps)
    a_offset, a_scale = (
        affine(action_key)
        if action_key in features
        else lerobot_affine(norm_map.get("ACTION", "IDENTITY"), stats.get(action_key), action_dim, eps)
    )
    return AffineNormalizer(offset, scale), AffineNormalizer(a_offset, a_scale)
