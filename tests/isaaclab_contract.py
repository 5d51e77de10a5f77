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
  extras["final_obs"] on steps with resets (removed on other steps).
- num_envs, device, max_episode_length, max_episode_length_s, step_dt, cfg.is_finite_horizon,
  single_action_space / action_space (unbounded Box), single_observation_space / observation_space
  (Dict of groups), unwrapped, termination_manager.get_term(name), seed(), render(), close().
"""

from __future__ import annotations

from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import torch


class _TerminationManager:
    def __init__(self, names: tuple[str, ...], num_envs: int, device: torch.device):
        self.active_terms = list(names)
        self._term_dones = {n: torch.zeros(num_envs, dtype=torch.bool, device=device) for n in names}

    def get_term(self, name: str) -> torch.Tensor:
        return self._term_dones[name]


class PointMassReachEnv:
    """obs "policy" = [pos, vel, goal - pos] (6); "critic" = policy + goal (8); action = force (2)."""

    metadata = {"render_modes": [None, "rgb_array"], "autoreset_mode": "same-step"}

    def __init__(self, num_envs: int = 4, device: str = "cpu", max_episode_length: int = 20,
                 step_dt: float = 0.1, finite_horizon: bool = False, compute_final_obs: bool = False,
                 render_mode: str | None = None, goal_radius: float = 0.15):
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.step_dt = step_dt
        self.max_episode_length = max_episode_length
        self.max_episode_length_s = max_episode_length * step_dt
        self.goal_radius = goal_radius
        self.render_mode = render_mode
        self.cfg = SimpleNamespace(is_finite_horizon=finite_horizon, compute_final_obs=compute_final_obs,
                                   episode_length_s=self.max_episode_length_s, decimation=1,
                                   sim=SimpleNamespace(dt=step_dt))
        self.single_observation_space = gym.spaces.Dict({
            "policy": gym.spaces.Box(-np.inf, np.inf, shape=(6,)),
            "critic": gym.spaces.Box(-np.inf, np.inf, shape=(8,)),
        })
        self.single_action_space = gym.spaces.Box(-np.inf, np.inf, shape=(2,))
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self.termination_manager = _TerminationManager(("success", "out_of_bounds", "time_out"), num_envs, self.device)
        self.reward_weights = {"distance": -1.0, "success_bonus": 10.0}
        self._episode_sums = {k: torch.zeros(num_envs, device=self.device) for k in self.reward_weights}
        self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self.common_step_counter = 0
        self.extras: dict = {}
        self.raw_actions = torch.zeros(num_envs, 2, device=self.device)
        self._gen = torch.Generator(device=self.device)
        self._gen.manual_seed(0)
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
        policy = torch.cat([self.pos, self.vel, self.goal - self.pos], dim=-1)
        return {"policy": policy, "critic": torch.cat([policy, self.goal], dim=-1)}

    def _reset_idx(self, env_ids: torch.Tensor) -> None:
        log = {}
        for key, sums in self._episode_sums.items():
            log[f"Episode_Reward/{key}"] = torch.mean(sums[env_ids]) / self.max_episode_length_s
            sums[env_ids] = 0.0
        for name, dones in self.termination_manager._term_dones.items():
            log[f"Episode_Termination/{name}"] = torch.count_nonzero(dones[env_ids]).item()
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
        terms = self.termination_manager._term_dones
        terms["success"][:] = dist < self.goal_radius
        terms["out_of_bounds"][:] = self.pos.abs().amax(dim=-1) > 2.0
        terms["time_out"][:] = self.episode_length_buf >= self.max_episode_length
        terminated = terms["success"] | terms["out_of_bounds"]
        truncated = terms["time_out"].clone()

        values = {"distance": dist, "success_bonus": terms["success"].float()}
        reward = torch.zeros(self.num_envs, device=self.device)
        for key, weight in self.reward_weights.items():
            term_reward = weight * values[key] * self.step_dt
            reward += term_reward
            self._episode_sums[key] += term_reward

        reset_ids = torch.nonzero(terminated | truncated).flatten()
        if len(reset_ids) > 0:
            if self.cfg.compute_final_obs:
                self.extras["final_obs"] = self._compute_obs()
            self._reset_idx(reset_ids)
        else:
            self.extras.pop("final_obs", None)
        return self._compute_obs(), reward, terminated.clone(), truncated, self.extras

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        return np.zeros((64, 64, 3), dtype=np.uint8)

    def close(self) -> None:
        self.closed = True


def contract_factory(**env_kwargs):
    """An env_factory for genpo.envs.isaaclab.IsaacLabEnv building PointMassReachEnv."""

    def factory(task_id: str, num_envs: int, device: str, max_episode_steps: int | None = None, **kwargs):
        options = {**env_kwargs, **kwargs}
        if max_episode_steps is not None:
            options["max_episode_length"] = max_episode_steps
        factory.last_env = PointMassReachEnv(num_envs=num_envs, device=device, **options)
        factory.last_task = task_id
        return factory.last_env

    return factory
