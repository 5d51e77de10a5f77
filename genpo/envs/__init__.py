"""Batched environments: one protocol (base.BatchedEnv), one adapter per simulator, and the table
BACKENDS that names them; nothing outside this package names a backend.

    make_env(cfg)  -> BatchedEnv   cfg.backend a BACKENDS name: "mujoco" | "pusht" (gymnasium), "isaaclab"
    env_spec(cfg)  -> (obs_dim, action_dim) without starting a vector env or a simulator

A backend is data (`Backend`): how to resolve a task id, how to know its dimensions without starting
a simulator, and where its adapter lives ("module:function", imported only when an env is made).
Adding a simulator: an adapter module implementing BatchedEnv, one BACKENDS entry, a configs/task
file (README, "How to add a simulator"). Task ids, aliases and known dimensions live in
genpo.envs.tasks. Unknown backends and task ids raise ValueError (listing the valid ones) before any
simulator is imported or started.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from .base import BatchedEnv, EnvConfig, EnvStep
from .tasks import (
    ISAACLAB_TASK_ALIASES,
    KNOWN_TASKS,
    TASK_ALIASES,
    TASK_DIMS,
    check_isaaclab_task,
    isaaclab_task_dims,
    resolve_gymnasium_task,
    resolve_isaaclab_task,
)


@dataclass(frozen=True)
class Backend:
    adapter: str  # "module:function", function(cfg, task, **kwargs) -> BatchedEnv; imported by make_env only
    resolve: Callable[[str], str]  # task id or alias -> canonical id, ValueError listing the valid ones
    dims: Callable[[EnvConfig, str], tuple[int, int]]  # (obs_dim, action_dim) of a resolved task, starting nothing


def gymnasium_dims(cfg: EnvConfig, task: str, *, register: str = "", defaults: dict | None = None) -> tuple[int, int]:
    """From the known-dims table when no constructor kwargs are given, otherwise from one single env
    (milliseconds); `register` names a module that registers the task id with gymnasium."""
    extra = {k: v for k, v in cfg.kwargs.items() if k not in ("render_mode", "success_reward")}  # adapter options
    if not extra and task in TASK_DIMS:
        return TASK_DIMS[task]
    import gymnasium as gym

    if register:
        importlib.import_module(register)
    env = gym.make(task, disable_env_checker=True, **(defaults or {}), **extra)
    try:
        return int(env.observation_space.shape[0]), int(env.action_space.shape[0])
    finally:
        env.close()


def isaaclab_dims(cfg: EnvConfig, task: str) -> tuple[int, int]:
    """env.kwargs obs_dim/action_dim if set, else the known-dims table; the simulation cannot be started
    just to ask, so an unknown task raises ValueError saying how to declare its dims (the adapter checks
    declared dims against the live env)."""
    if "obs_dim" in cfg.kwargs and "action_dim" in cfg.kwargs:
        return int(cfg.kwargs["obs_dim"]), int(cfg.kwargs["action_dim"])
    dims = isaaclab_task_dims(task)
    if dims is None:
        raise ValueError(f"the dims of IsaacLab task {task!r} are not known without starting the simulation; set "
                         "env.kwargs.obs_dim and env.kwargs.action_dim (make_env checks them against the env)")
    return dims


BACKENDS: dict[str, Backend] = {
    "mujoco": Backend("genpo.envs.gym_vector:make_mujoco_env", partial(resolve_gymnasium_task, "mujoco"), gymnasium_dims),
    "pusht": Backend("genpo.envs.gym_vector:make_pusht_env", partial(resolve_gymnasium_task, "pusht"),
                     partial(gymnasium_dims, register="gym_pusht", defaults={"obs_type": "state"})),
    "isaaclab": Backend("genpo.envs.isaaclab:make_isaaclab_env", check_isaaclab_task, isaaclab_dims),
}


def backend_of(cfg: EnvConfig) -> Backend:
    if cfg.backend not in BACKENDS:
        raise ValueError(f"unknown env backend {cfg.backend!r}; valid backends: {', '.join(BACKENDS)}")
    return BACKENDS[cfg.backend]


def resolve_task(backend: str, task: str) -> str:
    """Canonical task id for a backend, or ValueError listing the valid ones. Starts nothing."""
    return backend_of(EnvConfig(backend=backend)).resolve(task)


def make_env(cfg: EnvConfig, **backend_kwargs) -> BatchedEnv:
    """Build the batched env described by `cfg`; backend_kwargs go to the adapter."""
    backend = backend_of(cfg)
    task = backend.resolve(cfg.task)
    if cfg.action_steps < 1:
        raise ValueError(f"action_steps must be >= 1, got {cfg.action_steps}")
    module, function = backend.adapter.split(":")
    return getattr(importlib.import_module(module), function)(cfg, task, **backend_kwargs)


def env_spec(cfg: EnvConfig) -> tuple[int, int]:
    """(obs_dim, action_dim) of the task, to check a checkpoint before any env is started."""
    backend = backend_of(cfg)
    return backend.dims(cfg, backend.resolve(cfg.task))


__all__ = [
    "BACKENDS",
    "Backend",
    "BatchedEnv",
    "EnvConfig",
    "EnvStep",
    "ISAACLAB_TASK_ALIASES",
    "KNOWN_TASKS",
    "TASK_ALIASES",
    "TASK_DIMS",
    "env_spec",
    "make_env",
    "resolve_isaaclab_task",
    "resolve_task",
]
