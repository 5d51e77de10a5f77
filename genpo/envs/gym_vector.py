"""BatchedEnv over gymnasium vector envs: the MuJoCo and PushT backends.

Each sub-env is wrapped in `ActionChunk`, which executes a whole (k, action_dim) chunk itself: it sums
the rewards and stops at the first termination/truncation inside the chunk, so an episode that ends
mid-chunk ends exactly there. The wrapper also keeps the episode's return and length (in env steps)
and reports them, with success where the task defines it, only in the info of the step that ends the
episode. Only then does a sub-env return a non-empty info, which keeps gymnasium's per-env info
merging off the hot path.

Autoreset: with gymnasium >= 1.1 the vector env runs in AutoresetMode.SAME_STEP: an ended sub-env is
reset inside the same step(), its true last observation arrives in info["final_obs"] and the wrapper's
episode info in info["final_info"]. (Careful: in that mode the top-level info of an ended env is its
*reset* info, e.g. PushT's is_success=False; the ended step's info is only in final_info.) With older
gymnasium (NEXT_STEP only) the wrapper resets the env itself and reports the same two keys, returning
terminated=truncated=False so the vector env never resets on its own.
"""

from __future__ import annotations

import os
import warnings
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from .base import BatchedEnv, EnvConfig, EnvStep

try:  # gymnasium >= 1.1
    from gymnasium.vector import AutoresetMode

    _SAME_STEP = AutoresetMode.SAME_STEP
except ImportError:  # pragma: no cover - gymnasium 1.0
    _SAME_STEP = None


SUCCESS_REWARDS = ("env", "absorbing", "sparse")


def training_reward(mode: str, reward: float, success: bool, steps_left: int, max_reward: float = 1.0) -> float:
    """The reward PPO optimises for a task whose env ends the episode on success (PushT):

    env        the env's own reward (for PushT: maximised by hovering near the goal without finishing);
    absorbing  the env's reward, plus, on success, `max_reward` for each of the `steps_left` steps to the time
               limit: success becomes an absorbing state that keeps earning the full per-step reward, so
               finishing is never worth less than any way of spending the remaining steps;
    sparse     1 on the success step, else 0 (DPPO's robomimic reward).
    """
    if mode == "absorbing":
        return reward + (max_reward * steps_left if success else 0.0)
    if mode == "sparse":
        return float(success)
    return reward


class ActionChunk(gym.Wrapper):
    """Executes an action chunk (k, action_dim); tracks the episode; optionally resets itself.

    step(chunk) -> (obs, training reward summed over the executed actions, terminated, truncated, info),
    where info is {} unless the episode ended, then {"terminated", "truncated", "episode_return",
    "episode_length"[, "success"]}; episode_return is the env's own return whatever `success_reward`
    (training_reward's mode) is. With `self_reset`, an ended episode is reset here and the step returns
    the new episode's first obs with info {"final_obs": last obs, "final_info": that dict} and
    terminated=truncated=False (what gymnasium's SAME_STEP vector env would produce).
    """

    def __init__(self, env: gym.Env, k: int, success_key: str | None = None, self_reset: bool = False,
                 success_reward: str = "env"):
        super().__init__(env)
        space = env.action_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
            raise ValueError(f"ActionChunk needs a flat Box action space, got {space}")
        if k < 1:
            raise ValueError(f"action_steps must be >= 1, got {k}")
        self.k = k
        self.action_space = gym.spaces.Box(
            low=np.tile(space.low, (k, 1)), high=np.tile(space.high, (k, 1)), dtype=space.dtype
        )
        self.success_key = success_key
        self.self_reset = self_reset
        if success_reward not in SUCCESS_REWARDS or (success_reward != "env" and success_key is None):
            raise ValueError(f"success_reward must be one of {SUCCESS_REWARDS} ('env' for tasks without success), "
                             f"got {success_reward!r}")
        self.success_reward = success_reward
        self.time_limit = getattr(env.spec, "max_episode_steps", None)
        if success_reward == "absorbing" and not self.time_limit:
            raise ValueError("success_reward='absorbing' needs a time limit (max_episode_steps)")
        self._return = 0.0
        self._length = 0

    def safe_render(self):
        """The frame, None without a render_mode, or an error message (a failing render must not kill an
        AsyncVectorEnv worker, which is what an exception inside `call("render")` does)."""
        if self.env.render_mode is None:
            return None
        try:
            return self.env.render()
        except Exception as err:  # noqa: BLE001 - reported by the adapter
            return f"{type(err).__name__}: {err}"

    def reset(self, **kwargs):
        obs, _ = self.env.reset(**kwargs)
        self._return, self._length = 0.0, 0
        return obs, {}

    def step(self, chunk):
        total = 0.0
        terminated = truncated = False
        info: dict[str, Any] = {}
        env_total = 0.0
        for action in chunk:
            obs, reward, terminated, truncated, info = self.env.step(action)
            self._length += 1
            success = self.success_key is not None and bool(info.get(self.success_key, False))
            env_total += float(reward)
            total += training_reward(self.success_reward, float(reward), success, (self.time_limit or 0) - self._length)
            if terminated or truncated:
                break
        self._return += env_total
        if not (terminated or truncated):
            return obs, total, False, False, {}
        end = {
            "terminated": bool(terminated),
            "truncated": bool(truncated),
            "episode_return": self._return,
            "episode_length": self._length,
        }
        if self.success_key is not None:
            end["success"] = float(bool(info.get(self.success_key, False)))
        if not self.self_reset:
            return obs, total, bool(terminated), bool(truncated), end
        new_obs, _ = self.reset()
        return new_obs, total, False, False, {"final_obs": obs, "final_info": end}


def _make_one(task: str, k: int, max_episode_steps: int | None, kwargs: dict, success_key: str | None,
              self_reset: bool, import_module: str | None, success_reward: str) -> gym.Env:
    """Module-level (picklable for AsyncVectorEnv) constructor of one chunked sub-env."""
    if import_module:
        __import__(import_module)  # registers the ids (gym_pusht)
    env = gym.make(task, max_episode_steps=max_episode_steps, disable_env_checker=True, **kwargs)
    return ActionChunk(env, k, success_key=success_key, self_reset=self_reset, success_reward=success_reward)


class GymVectorEnv(BatchedEnv):
    """A BatchedEnv over gymnasium Sync/AsyncVectorEnv of ActionChunk-wrapped single envs.

    Observations must be flat Boxes. Actions are clipped to the action space. `render()` gives env 0's
    frame when that env was made with render_mode="rgb_array" (other envs are made without rendering).
    """

    renders_offscreen = True

    def __init__(self, cfg: EnvConfig, task: str, *, success_key: str | None = None,
                 import_module: str | None = None, default_kwargs: dict | None = None,
                 self_reset: bool | None = None):
        if cfg.num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {cfg.num_envs}")
        if cfg.vector_mode not in ("sync", "async"):
            raise ValueError(f"vector_mode must be 'sync' or 'async', got {cfg.vector_mode!r}")
        self.task = task
        self.num_envs = cfg.num_envs
        self.action_steps = cfg.action_steps
        self.device = torch.device(cfg.device)
        self.has_success = success_key is not None
        kwargs = {**(default_kwargs or {}), **cfg.kwargs}
        self.render_mode = kwargs.pop("render_mode", None)
        self.success_reward = kwargs.pop("success_reward", "env")  # the training reward (training_reward)
        self._self_reset = (_SAME_STEP is None) if self_reset is None else self_reset
        fns = []
        for j in range(cfg.num_envs):  # env 0 alone gets the render_mode: the others never render
            env_kwargs = {**kwargs, "render_mode": self.render_mode} if j == 0 and self.render_mode else kwargs
            fns.append(partial(_make_one, task, cfg.action_steps, cfg.max_episode_steps, env_kwargs,
                               success_key, self._self_reset, import_module, self.success_reward))
        vec_kwargs = {} if self._self_reset else {"autoreset_mode": _SAME_STEP}
        if cfg.vector_mode == "async":
            self._venv = gym.vector.AsyncVectorEnv(fns, **vec_kwargs)
        else:
            self._venv = gym.vector.SyncVectorEnv(fns, **vec_kwargs)

        obs_space = self._venv.single_observation_space
        if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
            self._venv.close()
            raise ValueError(f"{task}: the env layer needs a flat Box observation, got {obs_space}")
        chunk_space = self._venv.single_action_space
        self.obs_dim = int(obs_space.shape[0])
        self.action_dim = int(chunk_space.shape[-1])
        self._np_action_dtype = chunk_space.dtype
        self._np_low = chunk_space.low.astype(np.float32)  # (k, action_dim)
        self._np_high = chunk_space.high.astype(np.float32)
        self._nan = np.full(self.num_envs, np.nan, dtype=np.float32)
        self.action_low = torch.as_tensor(chunk_space.low[0], dtype=torch.float32, device=self.device)
        self.action_high = torch.as_tensor(chunk_space.high[0], dtype=torch.float32, device=self.device)
        self._render_failed = False

    # ---- protocol ---------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> Tensor:
        seeds = None if seed is None else [seed + j for j in range(self.num_envs)]
        obs, _ = self._venv.reset(seed=seeds)
        return self._obs(obs)

    def step(self, actions: Tensor) -> EnvStep:
        actions = self.check_actions(actions)
        # clip in numpy: for these small arrays a few us cheaper per step than torch.clamp
        np_actions = np.maximum(actions.detach().to("cpu", torch.float32).numpy(), self._np_low)
        np.minimum(np_actions, self._np_high, out=np_actions)
        np_actions = np_actions.astype(self._np_action_dtype, copy=False)

        obs, reward, _, _, infos = self._venv.step(np_actions)  # done flags: from final_info below

        obs = np.asarray(obs, dtype=np.float32)
        reward = np.asarray(reward, dtype=np.float32)
        ended = infos.get("_final_obs")
        if ended is None or not ended.any():
            none = np.zeros(self.num_envs, dtype=bool)
            return self._pack(obs, reward, none, none.copy(), obs.copy(), self._nan.copy(), self._nan.copy(),
                              self._nan.copy())
        final = infos["final_info"]
        idx = np.flatnonzero(ended)
        final_obs = obs.copy()
        final_obs[idx] = np.stack([np.asarray(infos["final_obs"][i], dtype=np.float32) for i in idx])
        term = np.where(ended, final["terminated"], False).astype(bool)
        trunc = np.where(ended, final["truncated"], False).astype(bool) & ~term  # exclusive flags
        ep_return = np.where(ended, final["episode_return"], np.nan).astype(np.float32)
        ep_length = np.where(ended, final["episode_length"], np.nan).astype(np.float32)
        success = np.where(ended, final["success"], np.nan).astype(np.float32) if self.has_success else self._nan.copy()
        return self._pack(obs, reward, term, trunc, final_obs, ep_return, ep_length, success)

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array" or self._render_failed:
            return None
        try:
            if isinstance(self._venv, gym.vector.SyncVectorEnv):
                frame = self._venv.envs[0].safe_render()
            else:
                frame = self._venv.call("safe_render")[0]  # the other envs answer None at once
        except Exception as err:  # noqa: BLE001
            frame = f"{type(err).__name__}: {err}"
        if isinstance(frame, str):
            warnings.warn(f"{self.task}: off-screen rendering failed ({frame}); render() returns None from now "
                          "on (MuJoCo needs MUJOCO_GL=egl or osmesa set before mujoco is imported)", stacklevel=2)
            self._render_failed = True
            return None
        return None if frame is None else np.asarray(frame)

    def close(self) -> None:
        self._venv.close()

    # ---- helpers ----------------------------------------------------------------------------
    def _obs(self, obs) -> Tensor:
        return self._to_device(np.asarray(obs, dtype=np.float32))

    def _pack(self, obs, reward, terminated, truncated, final_obs, episode_return, episode_length, success) -> EnvStep:
        t = self._to_device
        return EnvStep(obs=t(obs), reward=t(reward), terminated=t(terminated), truncated=t(truncated),
                       final_obs=t(final_obs), episode_return=t(episode_return), episode_length=t(episode_length),
                       success=t(success))

    def _to_device(self, array: np.ndarray) -> Tensor:
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        return tensor if self.device.type == "cpu" else tensor.to(self.device)


# ---- backends -------------------------------------------------------------------------------
def make_mujoco_env(cfg: EnvConfig, task: str, **kwargs) -> GymVectorEnv:
    """Gymnasium MuJoCo (Hopper/Walker2d/HalfCheetah/Ant-v5); no success signal."""
    if cfg.kwargs.get("render_mode") and "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
        os.environ["MUJOCO_GL"] = "egl"  # headless: GLFW cannot work; only effective before mujoco is imported
    return GymVectorEnv(cfg, task, **kwargs)


PUSHT_MAX_EPISODE_STEPS = 300  # LeRobot's PushT evaluation limit (also gym-pusht's registered limit)


def make_pusht_env(cfg: EnvConfig, task: str, **kwargs) -> GymVectorEnv:
    """gym-pusht with obs_type="state": obs [agent_x, agent_y, block_x, block_y, block_angle],
    action = target agent position in pixels [0, 512]^2, success = info["is_success"] (coverage > 95%,
    which is also what terminates the episode)."""
    obs_type = cfg.kwargs.get("obs_type", "state")
    if obs_type != "state":
        raise ValueError(f"the PushT backend supports obs_type='state' only (the 5-d state of the "
                         f"demonstrations), got obs_type={obs_type!r}")
    if cfg.max_episode_steps is None:
        import dataclasses

        cfg = dataclasses.replace(cfg, max_episode_steps=PUSHT_MAX_EPISODE_STEPS)
    return GymVectorEnv(cfg, task, success_key="is_success", import_module="gym_pusht",
                        default_kwargs={"obs_type": "state", "render_mode": "rgb_array"}, **kwargs)
