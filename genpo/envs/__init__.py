"""Batched environments: one protocol (base.BatchedEnv), one adapter per simulator.

    make_env(cfg)  -> BatchedEnv   backends "mujoco" | "pusht" (gymnasium vector envs), "isaaclab"
    env_spec(cfg)  -> (obs_dim, action_dim) without starting a vector env or a simulator

Task ids, aliases and known dimensions live in genpo.envs.tasks. Unknown backends and task ids raise
ValueError (listing the valid ones) before any simulator is imported or started.
"""

from __future__ import annotations

from .base import BatchedEnv, EnvConfig, EnvStep
from .tasks import (
    BACKENDS,
    ISAACLAB_TASK_ALIASES,
    KNOWN_TASKS,
    TASK_ALIASES,
    TASK_DIMS,
    check_backend,
    isaaclab_task_dims,
    resolve_isaaclab_task,
    resolve_task,
)

__all__ = [
    "BACKENDS",
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


def make_env(cfg: EnvConfig, **backend_kwargs) -> BatchedEnv:
    """Build the batched env described by `cfg`.

    backend_kwargs go to the gymnasium adapters' constructors.
    """
    check_backend(cfg.backend)
    task = resolve_task(cfg.backend, cfg.task)
    if cfg.action_steps < 1:
        raise ValueError(f"action_steps must be >= 1, got {cfg.action_steps}")
    if cfg.backend == "mujoco":
        from .gym_vector import make_mujoco_env

        return make_mujoco_env(cfg, task, **backend_kwargs)
    if cfg.backend == "pusht":
        from .gym_vector import make_pusht_env

        return make_pusht_env(cfg, task, **backend_kwargs)
    from .isaaclab import IsaacLabEnv

    if backend_kwargs:
        raise TypeError(f"the isaaclab backend takes no constructor arguments, got {sorted(backend_kwargs)}")
    return IsaacLabEnv(cfg)


def env_spec(cfg: EnvConfig) -> tuple[int, int]:
    """(obs_dim, action_dim) of the task, to check a checkpoint before any env is started.

    Gymnasium backends: from the known-dims table when no constructor kwargs are given, otherwise
    from one single env (milliseconds). IsaacLab: env.kwargs obs_dim/action_dim if set, else the
    known-dims table; Isaac Sim cannot be started just to ask, so an unknown IsaacLab task raises
    ValueError saying how to declare its dims (make_env checks declared dims against the live env).
    """
    check_backend(cfg.backend)
    task = resolve_task(cfg.backend, cfg.task)
    if cfg.backend == "isaaclab":
        if "obs_dim" in cfg.kwargs and "action_dim" in cfg.kwargs:
            return int(cfg.kwargs["obs_dim"]), int(cfg.kwargs["action_dim"])
        dims = isaaclab_task_dims(task)
        if dims is None:
            raise ValueError(
                f"the dims of IsaacLab task {task!r} are not known without starting Isaac Sim; set "
                "env.kwargs.obs_dim and env.kwargs.action_dim (make_env checks them against the env)"
            )
        return dims
    extra = {k: v for k, v in cfg.kwargs.items() if k != "render_mode"}
    if not extra and task in TASK_DIMS:
        return TASK_DIMS[task]
    import gymnasium as gym

    if cfg.backend == "pusht":
        import gym_pusht  # noqa: F401 - registers gym_pusht/PushT-v0

        extra = {"obs_type": "state", **extra}
    env = gym.make(task, disable_env_checker=True, **extra)
    try:
        return int(env.observation_space.shape[0]), int(env.action_space.shape[0])
    finally:
        env.close()
