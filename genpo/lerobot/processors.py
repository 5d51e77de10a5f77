"""LeRobot processor files: write them for our checkpoints, read them from LeRobot's.

LeRobot >= 0.4 keeps normalisation outside the policy, in processor pipelines saved next to the
weights (``policy_preprocessor.json`` + a safetensors file of statistics per stateful step, and
``policy_postprocessor.json``). This module needs neither lerobot nor its import time: it writes and
parses those JSON files directly. tests/genpo/test_lerobot.py checks that lerobot 0.6.1 loads what we write.

Normalisation formulas, as LeRobot's NormalizerProcessorStep applies them (eps = 1e-8):
    MEAN_STD   : (x - mean) / (std + eps)
    MIN_MAX    : 2 (x - min) / d - 1,      d = max - min (eps where d == 0)
    QUANTILES  : 2 (x - q01) / d - 1,      d = q99 - q01 (eps where d == 0)
    QUANTILE10 : 2 (x - q10) / d - 1,      d = q90 - q10 (eps where d == 0)
    IDENTITY   : x
All are per-element affine maps x_n = (x - offset) / scale, which is how we hold them
(AffineNormalizer) when a LeRobot checkpoint is converted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from genpo.normalize import Normalizer

PREPROCESSOR = "policy_preprocessor"
POSTPROCESSOR = "policy_postprocessor"
OBSERVATION_ADAPTER = "genpo_observation_adapter"  # registered by lerobot_policy_genpo
LEROBOT_EPS = 1e-8
OUR_MODES = {"min_max": "MIN_MAX", "mean_std": "MEAN_STD", "identity": "IDENTITY"}


class AffineNormalizer(Normalizer):
    """x_n = (x - offset) / scale per element: any mix of LeRobot's per-feature modes in one vector."""

    def __init__(self, offset: Tensor, scale: Tensor):
        super().__init__("identity", offset.numel())
        self.register_buffer("offset", offset.detach().clone().float().reshape(-1))
        self.register_buffer("scale", scale.detach().clone().float().reshape(-1))

    def _affine(self) -> tuple[Tensor, Tensor]:
        return self.offset, self.scale


def lerobot_affine(mode: str, stats: Mapping[str, Tensor] | None, dim: int, eps: float = LEROBOT_EPS) -> tuple[Tensor, Tensor]:
    """(offset, scale) that reproduce LeRobot's normaliser for one feature (float64)."""
    if mode == "IDENTITY" or not stats:
        return torch.zeros(dim, dtype=torch.float64), torch.ones(dim, dtype=torch.float64)

    def get(name: str) -> Tensor:
        if name not in stats:
            raise ValueError(f"normalisation mode {mode} needs the statistic {name!r}, which the processor state lacks")
        return torch.as_tensor(stats[name], dtype=torch.float64).reshape(dim)

    if mode == "MEAN_STD":
        return get("mean"), get("std") + eps
    bounds = {"MIN_MAX": ("min", "max"), "QUANTILES": ("q01", "q99"), "QUANTILE10": ("q10", "q90")}
    if mode not in bounds:
        raise ValueError(f"unsupported LeRobot normalisation mode {mode!r}")
    low, high = (get(name) for name in bounds[mode])
    span = torch.where(high - low == 0, torch.full_like(low, eps), high - low)
    return low + span / 2, span / 2


# ---- writing: our checkpoints carry LeRobot's processor files -------------------------------------
def _stats_of(normalizer: Normalizer, key: str) -> dict[str, Tensor]:
    return {f"{key}.{name}": getattr(normalizer, name).detach().to("cpu", torch.float32).contiguous()
            for name in ("min", "max", "mean", "std")}


def _normalizer_config(features: dict, norm_map: dict) -> dict:
    return {"eps": LEROBOT_EPS, "features": features, "norm_map": norm_map}


def write_processor_files(policy, directory: str | Path) -> list[str]:
    """Write policy_preprocessor.json / policy_postprocessor.json (+ statistics) for a FlowPolicy.

    The statistics are the policy's own normaliser buffers, so LeRobot's processors and our loader
    normalise identically (up to float rounding: ours adds eps to max - min, LeRobot's only where it is 0).
    """
    cfg, directory = policy.config, Path(directory)
    features = {cfg.obs_key: {"type": "STATE", "shape": [cfg.obs_dim]},
                cfg.action_key: {"type": "ACTION", "shape": [cfg.action_dim]}}
    norm_map = {"STATE": OUR_MODES[cfg.obs_norm], "ACTION": OUR_MODES[cfg.action_norm]}
    pre_state = f"{PREPROCESSOR}_step_4_normalizer_processor.safetensors"
    post_state = f"{POSTPROCESSOR}_step_0_unnormalizer_processor.safetensors"
    stats = _stats_of(policy.obs_normalizer, cfg.obs_key) | _stats_of(policy.action_normalizer, cfg.action_key)
    pre = {"name": PREPROCESSOR, "steps": [
        {"registry_name": "rename_observations_processor", "config": {"rename_map": {}}},
        {"registry_name": "to_batch_processor", "config": {}},
        {"registry_name": "device_processor", "config": {"device": "cpu", "float_dtype": None}},
        {"registry_name": OBSERVATION_ADAPTER, "config": {"obs_key": cfg.obs_key, "obs_dim": cfg.obs_dim}},
        {"registry_name": "normalizer_processor", "config": _normalizer_config(features, norm_map), "state_file": pre_state},
    ]}
    post = {"name": POSTPROCESSOR, "steps": [
        {"registry_name": "unnormalizer_processor",
         "config": _normalizer_config({cfg.action_key: features[cfg.action_key]}, norm_map), "state_file": post_state},
        {"registry_name": "device_processor", "config": {"device": "cpu", "float_dtype": None}},
    ]}
    (directory / f"{PREPROCESSOR}.json").write_text(json.dumps(pre, indent=2))
    (directory / f"{POSTPROCESSOR}.json").write_text(json.dumps(post, indent=2))
    save_file(stats, directory / pre_state)
    save_file({k: v for k, v in stats.items() if k.startswith(f"{cfg.action_key}.")}, directory / post_state)
    return [f"{PREPROCESSOR}.json", f"{POSTPROCESSOR}.json", pre_state, post_state]


# ---- reading: LeRobot's checkpoints ---------------------------------------------------------------
def read_lerobot_normalization(directory: str | Path) -> tuple[dict[str, str], dict[str, dict[str, Tensor]], float]:
    """From policy_preprocessor.json: (feature type -> mode, feature key -> statistics, eps).

    Raises a clear error for checkpoints that carry no processor files (LeRobot < 0.4 kept the
    statistics inside model.safetensors: convert those with LeRobot's migrate_policy_normalization).
    """
    directory = Path(directory)
    path = directory / f"{PREPROCESSOR}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{directory} has no {path.name}: genpo reads the normalisation statistics of a LeRobot policy from its "
            f"processor files (LeRobot >= 0.4). Older checkpoints keep them in model.safetensors; migrate them with "
            f"`python -m lerobot.processor.migrate_policy_normalization` first.")
    pipeline = json.loads(path.read_text())
    steps = [s for s in pipeline.get("steps", []) if s.get("registry_name") == "normalizer_processor"]
    if not steps:
        return {}, {}, LEROBOT_EPS  # no normaliser step: the policy works in raw units
    step = steps[0]
    config = step.get("config", {})
    norm_map = {str(k): str(v) for k, v in config.get("norm_map", {}).items()}
    stats: dict[str, dict[str, Tensor]] = {}
    if "state_file" in step:
        for flat_key, tensor in load_file(directory / step["state_file"]).items():
            key, stat = flat_key.rsplit(".", 1)
            stats.setdefault(key, {})[stat] = tensor
    return norm_map, stats, float(config.get("eps", LEROBOT_EPS))
