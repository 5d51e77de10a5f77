"""One batched-environment protocol: torch tensors in and out, all envs at once.

Every adapter (gymnasium MuJoCo, PushT, IsaacLab) implements `BatchedEnv`. Envs reset themselves
inside `step` when an episode ends; the true final observation of the ended episode is returned in
`EnvStep.final_obs` so PPO can bootstrap truncated episodes correctly.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from genpo.config import Allowed, at_least, one_of


@dataclass
class EnvConfig:
    backend: str = "mujoco"  # mujoco | pusht | isaaclab
    task: str = "Hopper-v5"  # resolved through the backend's alias table
    num_envs: int = 8
    action_steps: int = 1  # k: actions of a chunk executed per policy step
    max_episode_steps: int | None = None  # None: the task's own limit
    vector_mode: str = "sync"  # gymnasium backends: sync | async
    device: str = "cpu"  # where observation/reward tensors live (IsaacLab: the sim device)
    seed: int | None = None  # IsaacLab: env_cfg.seed at construction (the runner sets seed + rank)
    kwargs: dict = field(default_factory=dict)  # passed to the backend's env constructor

    ALLOWED: ClassVar[dict[str, Allowed]] = {
        "num_envs": at_least(1), "action_steps": at_least(1), "max_episode_steps": at_least(1),
        "vector_mode": one_of("sync", "async"),
    }


@dataclass
class EnvStep:
    """Result of executing one action chunk in every env. B = num_envs."""

    obs: Tensor  # (B, obs_dim) float32: next observation (first obs of a new episode where one ended)
    reward: Tensor  # (B,) float32: reward summed over the executed actions of the chunk
    terminated: Tensor  # (B,) bool: the episode ended in a terminal state (no bootstrap)
    truncated: Tensor  # (B,) bool: the episode was cut by a time limit (bootstrap from final_obs)
    final_obs: Tensor  # (B, obs_dim): last observation of the ended episode where done, else == obs
    episode_return: Tensor  # (B,) float32: return of the episode that ended here, NaN where none ended
    episode_length: Tensor  # (B,) float32: its length in env steps, NaN where none ended
    success: Tensor  # (B,) float32: 1/0 where an episode ended and the task defines success, else NaN

    @property
    def done(self) -> Tensor:
        return self.terminated | self.truncated


class BatchedEnv(ABC):
    """What an adapter declares (class attributes) and implements; the runner reads these capabilities
    instead of naming backends."""

    single_instance = False  # True: one env per process (IsaacLab); evaluation then runs in the training envs
    renders_offscreen = False  # True: an env made with kwargs render_mode="rgb_array" returns frames from render()
    num_envs: int
    obs_dim: int
    action_dim: int
    action_steps: int
    action_low: Tensor  # (action_dim,)
    action_high: Tensor  # (action_dim,)
    device: torch.device

    @abstractmethod
    def reset(self, seed: int | None = None) -> Tensor:
        """Reset every env; returns obs (B, obs_dim). Env j is seeded with seed + j."""

    @abstractmethod
    def step(self, actions: Tensor) -> EnvStep:
        """actions (B, k, action_dim), k = action_steps, in env units (the adapter clips to bounds)."""

    def check_actions(self, actions: Tensor) -> Tensor:
        """actions as a finite (B, k, action_dim) tensor ((B, action_dim) is accepted when k = 1), or a clear error
        (FloatingPointError for NaN/inf entries)."""
        actions = torch.as_tensor(actions)
        if actions.dim() == 2 and self.action_steps == 1:
            actions = actions.unsqueeze(1)
        expected = (self.num_envs, self.action_steps, self.action_dim)
        if tuple(actions.shape) != expected:
            raise ValueError(f"actions must have shape (num_envs, action_steps, action_dim) = {expected}, "
                             f"got {tuple(actions.shape)}")
        finite = torch.isfinite(actions)
        if not bool(finite.all()):  # never hand NaN/inf to a simulator (MuJoCo warns and can hang on them)
            raise FloatingPointError(f"{int((~finite).sum())} of {finite.numel()} action entries are NaN or infinite; "
                                     f"refused before they reached the {type(self).__name__} simulator")
        return actions

    def evaluation(self) -> contextlib.AbstractContextManager:
        """Context for evaluating in these envs; single-instance envs keep their training state (curricula)."""
        return contextlib.nullcontext(self)

    def pop_episode_log(self) -> dict[str, float]:
        """The simulator's own episode terms since the last call (IsaacLab's extras["log"]), else {}."""
        return {}

    def render(self) -> np.ndarray | None:
        """An RGB frame of env 0, or None where the backend cannot render off-screen."""
        return None

    def close(self) -> None:  # noqa: B027 - an optional hook: adapters without resources need not close anything
        """Release the simulator (IsaacLab: the process's one simulation)."""
