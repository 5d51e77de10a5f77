"""Policy checkpoints as LeRobot-style policy directories: config.json ("type") + model.safetensors.

Writes are atomic: everything goes into a temporary sibling directory that is renamed into place,
so a crash never leaves a half-written checkpoint behind.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import torch
from omegaconf import OmegaConf
from safetensors import SafetensorError
from safetensors.torch import load_file

from genpo.policy import POLICY_TYPE
from genpo.policy_common import ChunkPolicy, ChunkPolicyConfig

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


def policy_config_dict(config: ChunkPolicyConfig) -> dict[str, Any]:
    return {
        "type": config.policy_type,
        **dataclasses.asdict(config),
        "input_features": {config.obs_key: {"type": "STATE", "shape": [config.obs_dim]}},
        "output_features": {config.action_key: {"type": "ACTION", "shape": [config.action_dim]}},
    }


def save_policy(policy: ChunkPolicy, directory: str | Path, extra_files: dict[str, str] | None = None) -> Path:
    """Write the policy directory (policy.write_checkpoint: config.json, model.safetensors with weights and
    normaliser statistics, LeRobot's processor files; converted policies write their source format) and
    any extra text files, atomically."""

    def write(tmp: Path) -> None:
        policy.write_checkpoint(tmp)
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text)

    return atomic_directory(directory, write)


# config.json "type" -> (module, class) of every policy genpo saves
POLICY_CLASSES = {POLICY_TYPE: ("genpo.policy", "FlowPolicy"),
                  "genpo_diffusion": ("genpo.diffusion", "DiffusionPolicy"),
                  "genpo_gaussian": ("genpo.gaussian", "GaussianPolicy")}


def read_policy_type(directory: Path) -> tuple[str | None, dict]:
    """(config.json "type", the whole config.json), with clear errors for a missing or corrupt file."""
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no policy checkpoint at {directory}: expected a directory with {CONFIG_NAME} and {WEIGHTS_NAME}")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); the checkpoint is corrupt") from None
    return raw.get("type"), raw


def load_policy(directory: str | Path, *, obs_dim: int | None = None, action_dim: int | None = None,
                device: str | torch.device = "cpu") -> ChunkPolicy:
    """Load a genpo policy directory (flow, diffusion or Gaussian); obs_dim/action_dim, if given, must match."""
    directory = Path(directory)
    kind, raw = read_policy_type(directory)
    if kind not in POLICY_CLASSES:
        raise ValueError(f"{directory} holds a policy of type {kind!r}; genpo policies are {sorted(POLICY_CLASSES)} "
                         "(LeRobot checkpoints load through genpo.convert.load_any_policy)")
    module, name = POLICY_CLASSES[kind]
    policy_class = getattr(importlib.import_module(module), name)
    known = {f.name for f in dataclasses.fields(policy_class.config_class)}
    config = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(policy_class.config_class),
                                                 {k: v for k, v in raw.items() if k in known}))
    for field_name, expected in (("obs_dim", obs_dim), ("action_dim", action_dim)):
        if expected is not None and getattr(config, field_name) != expected:
            raise ValueError(f"checkpoint {directory} has {field_name}={getattr(config, field_name)}, but the env needs "
                             f"{field_name}={expected}: pick a checkpoint trained for this task")
    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} is missing: the checkpoint is incomplete")
    try:
        state = load_file(weights, device=str(device))
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{weights} is corrupt or truncated ({err}); re-create the checkpoint") from None
    policy = policy_class(config).to(device)
    missing, unexpected = set(policy.state_dict()) - set(state), set(state) - set(policy.state_dict())
    if missing or unexpected:
        raise ValueError(f"{weights} does not match its config.json: missing {sorted(missing)}, unexpected {sorted(unexpected)}")
    try:
        policy.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"{weights} does not match its config.json: {err}") from None
    return policy
