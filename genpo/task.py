"""What a task is: a demonstration dataset, an env to act in, and a default pretrained checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from genpo.config import Allowed, at_least, between
from genpo.envs.base import EnvConfig


@dataclass
class TaskConfig:
    name: str = "hopper"
    dataset: str = "datasets/hopper_medium"  # LeRobotDataset v3.0 directory
    checkpoint: str = "checkpoints/hopper_medium"  # shipped pretrained policy for fine-tuning
    obs_key: str = "observation.state"  # dataset feature the policy observes (= the env's observation)
    action_key: str = "action"
    horizon: int = 4  # H, predicted actions per chunk
    n_action_steps: int = 4  # k, executed actions per chunk (the env's action_steps)
    env: EnvConfig = field(default_factory=EnvConfig)
    success_metric: bool = False  # report success rate (PushT) rather than return alone

    ALLOWED: ClassVar[dict[str, Allowed]] = {"horizon": at_least(1), "n_action_steps": between(1, "horizon")}
