"""Policy checkpoints as LeRobot-style policy directories: config.json ("type") + model.safetensors.

Writes are atomic: everything goes into a temporary sibling directory that is renamed into place,
so a crash never leaves a half-written checkpoint behind.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import torch
from omegaconf import OmegaConf
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from genpo.policy import POLICY_TYPE, FlowPolicy, FlowPolicyConfig

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def atomic_directory(target: str | Path, write: Callable[[Path], None]) -> Path:
    """Call write(tmp_dir), then move tmp_dir to target, replacing any previous target."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        write(tmp)
        if target.exists():
            target.rename(old)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return target


def policy_config_dict(config: FlowPolicyConfig) -> dict[str, Any]:
    cfg = dataclasses.asdict(config)
    return {
        "type": getattr(config, "policy_type", POLICY_TYPE),  # baseline policies (genpo.policy_common) set their own
        **cfg,
        "input_features": {config.obs_key: {"type": "STATE", "shape": [config.obs_dim]}},
        "output_features": {config.action_key: {"type": "ACTION", "shape": [config.action_dim]}},
    }


def save_policy(policy: FlowPolicy, directory: str | Path, extra_files: dict[str, str] | None = None) -> Path:
    """Write config.json, model.safetensors (weights + normaliser statistics), LeRobot's processor files
    (so lerobot-eval can normalise) and any extra text files. Converted policies (genpo.convert) that
    have `write_checkpoint` are written in their source format instead (e.g. a LeRobot diffusion dir)."""
    from genpo.lerobot.processors import write_processor_files

    custom = getattr(policy, "write_checkpoint", None)
    state = None if custom else {k: v.detach().to("cpu").contiguous() for k, v in policy.state_dict().items()}

    def write(tmp: Path) -> None:
        if custom:
            custom(tmp)
        else:
            (tmp / CONFIG_NAME).write_text(json.dumps(policy_config_dict(policy.config), indent=2))
            save_file(state, tmp / WEIGHTS_NAME, metadata={"format": "pt", "type": POLICY_TYPE})
            write_processor_files(policy, tmp)
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text)

    return atomic_directory(directory, write)


def read_policy_config(directory: str | Path) -> FlowPolicyConfig:
    directory = Path(directory)
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no policy checkpoint at {directory}: expected a directory with {CONFIG_NAME} and {WEIGHTS_NAME}")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); the checkpoint is corrupt") from None
    if raw.get("type") != POLICY_TYPE:
        raise ValueError(f"{directory} holds a policy of type {raw.get('type')!r}, not {POLICY_TYPE!r}")
    known = {f.name for f in dataclasses.fields(FlowPolicyConfig)}
    schema = OmegaConf.structured(FlowPolicyConfig)
    return OmegaConf.to_object(OmegaConf.merge(schema, {k: v for k, v in raw.items() if k in known}))


def load_policy(directory: str | Path, *, obs_dim: int | None = None, action_dim: int | None = None,
                device: str | torch.device = "cpu") -> FlowPolicy:
    """Load a policy directory; obs_dim/action_dim, if given, must match the checkpoint."""
    directory = Path(directory)
    other = _baseline_policy_class(directory)
    if other is not None:  # DDPM/DDIM (DPPO) and Gaussian (PPO) baselines: genpo.policy_common
        return other.load(directory, obs_dim=obs_dim, action_dim=action_dim, device=device)
    config = read_policy_config(directory)
    for name, expected in (("obs_dim", obs_dim), ("action_dim", action_dim)):
        if expected is not None and getattr(config, name) != expected:
            raise ValueError(f"checkpoint {directory} has {name}={getattr(config, name)}, but the env needs "
                             f"{name}={expected}: pick a checkpoint trained for this task")
    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} is missing: the checkpoint is incomplete")
    try:
        state = load_file(weights, device=str(device))
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{weights} is corrupt or truncated ({err}); re-create the checkpoint") from None
    policy = FlowPolicy(config).to(device)
    missing, unexpected = set(policy.state_dict()) - set(state), set(state) - set(policy.state_dict())
    if missing or unexpected:
        raise ValueError(f"{weights} does not match its config.json: missing {sorted(missing)}, unexpected {sorted(unexpected)}")
    try:
        policy.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"{weights} does not match its config.json: {err}") from None
    return policy


BASELINE_POLICY_TYPES = {"genpo_diffusion": ("genpo.diffusion", "DiffusionPolicy"),
                         "genpo_gaussian": ("genpo.gaussian", "GaussianPolicy")}


def _baseline_policy_class(directory: Path):
    """The class of a baseline policy directory (by config.json "type"), None for anything else."""
    try:
        kind = json.loads((directory / CONFIG_NAME).read_text()).get("type")
    except (OSError, json.JSONDecodeError, AttributeError):
        return None  # read_policy_config reports missing or corrupt files
    if kind not in BASELINE_POLICY_TYPES:
        return None
    import importlib

    module, name = BASELINE_POLICY_TYPES[kind]
    return getattr(importlib.import_module(module), name)
