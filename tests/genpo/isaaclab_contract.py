"""A pure-torch env with IsaacLab's ManagerBasedRLEnv step/reset contract, for testing without Isaac Sim.

Batched 2-D point-mass reaching. What it reproduces of IsaacLab (2.x ManagerBasedRLEnv, plus 3.x's
optional terminal observation):

- reset(seed=None, env_ids=None, options=None) -> (obs_dict, extras); step(action) -> (obs_dict, reward,
  terminated, truncated, extras), all torch tensors on `device`; obs_dict has groups "policy" and
  "critic" (concatenated terms).
- Same-step autoreset: envs that terminated or timed out are reset inside step(), before the returned
  observation is computed. terminated = non-time-out termination terms, truncated = time-out terms;
  both can be True at once.
- Rewards are weighted sums of terms scaled by step_dt (like RewardManager.compute(dt)).
- extras["log"] is rebuilt only in _reset_idx: "Episode_Reward/<term>" = mean episodic sum over the
  reset envs / max_episode_length_s, "Episode_Termination/<term>" = number of reset envs the term
  fired for. extras is one dict reused across steps, so "log" stays stale on steps without resets.
- With cfg.compute_final_obs=True (3.x), the observation groups computed before the reset are put in
  extras["final_obs"] on steps with resets; it stays there, stale, on later steps (as in IsaacLab 3.0).
- Like IsaacLab 3.0's manager-based envs, step() returns the SAME reward / terminated / truncated tensors
  every step, rewritten in place, and here the observation groups too (the adapter must copy what it keeps).
- direct=True: a DirectRLEnv-style env: no termination manager, only a "policy" group, and
  extras["log"] = {"Metrics/success_rate": ...} as IsaacLab 3.0's Direct cartpole writes.
- num_envs, device, max_episode_length, max_episode_length_s, step_dt, cfg.is_finite_horizon,
  single_action_space / action_space (unbounded Box), single_observation_space / observation_space
  (Dict of groups), unwrapped, termination_manager.get_term(name), seed(), render(), close().
"""

from __future__ import annotations

import contextlib
import math
import sys
from types import ModuleType, SimpleNamespace

import gymnasium as gym
import numpy as np
import torch


class _TerminationManager:
    def __init__(self, names: tuple[str, ...], num_envs: int, device: torch.device):
        self.active_terms = list(names)
        self._term_dones = {n: torch.zeros(num_envs, dtype=torch.bool, device=device) for n in names}

    def get_term(self, name: str) -> torch.Tensor:
        return self._term_dones[name]


class PointMassReachEnv(gym.Env):
    """obs "policy" = [pos, vel, goal - pos] (6); "critic" = policy + goal (8); action = force (2)."""

    metadata = {"render_modes": [None, "rgb_array"], "autoreset_mode": "same-step"}

    def __init__(self, num_envs: int = 4, device: str = "cpu", max_episode_length: int = 20,
                 step_dt: float = 0.1, finite_horizon: bool = False, compute_final_obs: bool = False,
                 render_mode: str | None = None, goal_radius: float = 0.15, direct: bool = False, seed: int | None = None):
        self.direct = direct
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.step_dt = step_dt
        self.max_episode_length = max_episode_length
        self.max_episode_length_s = max_episode_length * step_dt
        self.goal_radius = goal_radius
        self.render_mode = render_mode
        self.cfg = SimpleNamespace(is_finite_horizon=finite_horizon, compute_final_obs=compute_final_obs,
                                   episode_length_s=self.max_episode_length_s, decimation=1,
                                   sim=SimpleNamespace(dt=step_dt), seed=seed)
        groups = {"policy": gym.spaces.Box(-np.inf, np.inf, shape=(6,))}
        if not direct:
            groups["critic"] = gym.spaces.Box(-np.inf, np.inf, shape=(8,))
        self.single_observation_space = gym.spaces.Dict(groups)
        self.single_action_space = gym.spaces.Box(-np.inf, np.inf, shape=(2,))
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self._terms = _TerminationManager(("success", "out_of_bounds", "time_out"), num_envs, self.device)
        if not direct:
            self.termination_manager = self._terms
        self.reward_weights = {"distance": -1.0, "success_bonus": 10.0}
        self._episode_sums = {k: torch.zeros(num_envs, device=self.device) for k in self.reward_weights}
        self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self.common_step_counter = 0
        self.extras: dict = {}
        self.raw_actions = torch.zeros(num_envs, 2, device=self.device)
        self._gen = torch.Generator(device=self.device)
        self._gen.manual_seed(0 if seed is None else seed)
        self._obs_buffers: dict[str, torch.Tensor] = {}
        self._reward = torch.zeros(num_envs, device=self.device)  # reused in place, as IsaacLab does
        self._terminated = torch.zeros(num_envs, dtype=torch.bool, device=self.device)
        self._truncated = torch.zeros(num_envs, dtype=torch.bool, device=self.device)
        self.pos = torch.zeros(num_envs, 2, device=self.device)
        self.vel = torch.zeros(num_envs, 2, device=self.device)
        self.goal = torch.zeros(num_envs, 2, device=self.device)
        self.closed = False

    @property
    def unwrapped(self) -> PointMassReachEnv:
        return self

    def seed(self, seed: int = -1) -> int:
        self._gen.manual_seed(int(seed))
        return int(seed)

    def _uniform(self, n: int, low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, 2, generator=self._gen, device=self.device)

    def _compute_obs(self) -> dict[str, torch.Tensor]:
        """Written into one buffer per group, reused in place (a Direct env may do that; a copy for final_obs)."""
        policy = torch.cat([self.pos, self.vel, self.goal - self.pos], dim=-1)
        obs = {"policy": policy} if self.direct else {"policy": policy, "critic": torch.cat([policy, self.goal], dim=-1)}
        for name, value in obs.items():
            buffer = self._obs_buffers.setdefault(name, torch.empty_like(value))
            obs[name] = buffer.copy_(value)
        return obs

    def _reset_idx(self, env_ids: torch.Tensor) -> None:
        log = {}
        for key, sums in self._episode_sums.items():
            log[f"Episode_Reward/{key}"] = torch.mean(sums[env_ids]) / self.max_episode_length_s
            sums[env_ids] = 0.0
        for name, dones in self._terms._term_dones.items():
            log[f"Episode_Termination/{name}"] = torch.count_nonzero(dones[env_ids]).item()
        if self.direct:
            log = {"Metrics/success_rate": self._terms.get_term("success")[env_ids].float().mean()}
        self.extras["log"] = log
        n = len(env_ids)
        self.pos[env_ids] = self._uniform(n, -1.0, 1.0)
        self.goal[env_ids] = self._uniform(n, -1.0, 1.0)
        self.vel[env_ids] = 0.0
        self.episode_length_buf[env_ids] = 0

    def reset(self, seed: int | None = None, env_ids=None, options=None):
        if seed is not None:
            self.seed(seed)
        ids = torch.arange(self.num_envs, device=self.device) if env_ids is None else torch.as_tensor(env_ids)
        self._reset_idx(ids)
        return self._compute_obs(), self.extras

    def step(self, action: torch.Tensor):
        action = action.to(self.device)
        self.raw_actions = action.clone()
        self.vel = 0.8 * self.vel + self.step_dt * action
        self.pos = self.pos + self.step_dt * self.vel
        self.episode_length_buf += 1
        self.common_step_counter += 1

        dist = torch.linalg.norm(self.goal - self.pos, dim=-1)
        terms = self._terms._term_dones
        terms["success"][:] = dist < self.goal_radius
        terms["out_of_bounds"][:] = self.pos.abs().amax(dim=-1) > 2.0
        terms["time_out"][:] = self.episode_length_buf >= self.max_episode_length
        self._terminated.copy_(terms["success"] | terms["out_of_bounds"])
        self._truncated.copy_(terms["time_out"])

        values = {"distance": dist, "success_bonus": terms["success"].float()}
        self._reward.zero_()
        for key, weight in self.reward_weights.items():
            term_reward = weight * values[key] * self.step_dt
            self._reward += term_reward
            self._episode_sums[key] += term_reward

        reset_ids = torch.nonzero(self._terminated | self._truncated).flatten()
        if len(reset_ids) > 0:
            if self.cfg.compute_final_obs:
                self.extras["final_obs"] = {k: v.clone() for k, v in self._compute_obs().items()}
            self._reset_idx(reset_ids)
        return self._compute_obs(), self._reward, self._terminated, self._truncated, self.extras

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        return np.zeros((64, 64, 3), dtype=np.uint8)

    def close(self) -> None:
        self.closed = True


CONTRACT_TASKS = {"Isaac-Contract-Reach": False, "Isaac-Contract-Reach-Direct": True}  # id -> direct


def install_fake_isaaclab(monkeypatch, tmp_path, final_obs: bool = True, **env_kwargs) -> SimpleNamespace:
    """Fake `isaaclab`, `isaaclab.app`, `isaaclab_tasks` and `isaaclab_tasks.utils.parse_cfg` modules, so that
    genpo.envs.isaaclab's real launch code (configure paths, import, resolve the id, parse_env_cfg,
    launch_simulation, gym.make(task, cfg=...), close) runs against PointMassReachEnv.

    Registers the gym ids of CONTRACT_TASKS; parse_env_cfg returns the cfg the env is then built from, so
    what the adapter writes into it (seed, compute_final_obs, episode_length_s) reaches the env.
    final_obs=False: an IsaacLab 2.x cfg without compute_final_obs (no terminal observation). Returns a
    record: launches (cfg, launcher args), exits, envs (made, in order).
    """
    record = SimpleNamespace(launches=[], exits=0, envs=[])

    @contextlib.contextmanager
    def launch_simulation(cfg, launcher_args=None):
        record.launches.append((cfg, dict(launcher_args or {})))
        try:
            yield cfg.sim
        finally:
            record.exits += 1

    def parse_env_cfg(task_id: str, device: str = "cpu", num_envs: int | None = None):
        cfg = PointMassReachEnv(num_envs=1, direct=CONTRACT_TASKS[task_id]).cfg
        cfg.num_envs, cfg.device = num_envs, device
        if not final_obs:
            del cfg.compute_final_obs
        return cfg

    def make(cfg, render_mode=None, direct=False):
        step_dt = cfg.sim.dt * cfg.decimation
        options = {"finite_horizon": cfg.is_finite_horizon, **env_kwargs}
        env = PointMassReachEnv(num_envs=cfg.num_envs, device=cfg.device, step_dt=cfg.sim.dt,
                                max_episode_length=math.ceil(cfg.episode_length_s / step_dt),
                                compute_final_obs=getattr(cfg, "compute_final_obs", False),
                                render_mode=render_mode, direct=direct, seed=cfg.seed, **options)
        record.envs.append(env)
        return env

    for task_id, direct in CONTRACT_TASKS.items():
        spec = gym.envs.registration.EnvSpec(task_id, entry_point=make, disable_env_checker=True, kwargs={"direct": direct})
        monkeypatch.setitem(gym.registry, task_id, spec)
    modules = {"isaaclab": {}, "isaaclab.app": {"launch_simulation": launch_simulation}, "isaaclab_tasks": {},
               "isaaclab_tasks.utils": {}, "isaaclab_tasks.utils.parse_cfg": {"parse_env_cfg": parse_env_cfg}}
    for name, attributes in modules.items():
        module = ModuleType(name)
        module.__path__ = []  # a package, so that submodules import
        module.__dict__.update(attributes)
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setenv("ISAACSIM_ASSET_ROOT", str(tmp_path / "assets"))  # set: the mirror is not built
    monkeypatch.setenv("WARP_CACHE_PATH", str(tmp_path / "warp"))
    return record
