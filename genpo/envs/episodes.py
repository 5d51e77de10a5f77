"""Chunk and episode bookkeeping for simulators that step all envs as tensors and reset finished envs
themselves (IsaacLab, or any torch-native simulator): one policy step executes k actions, and an env
whose episode ends inside the chunk keeps running its next episode for the rest of the chunk.

    episodes = ChunkEpisodes(num_envs, obs_dim, device)
    episodes.reset()                                    # after the simulator's own reset
    episodes.start_chunk()
    for i in range(k):
        obs, reward, term, trunc = <one simulator step>
        done = episodes.record(reward, term, trunc, final_obs=lambda: <terminal obs of envs that ended>)
    step = episodes.finish(obs)                         # -> EnvStep

What an EnvStep reports for a chunk (genpo.envs.base): the reward summed over the chunk up to the
first end of an episode in it; terminated/truncated, the final observation, the episode's return
and length, and success, all of that first end; NaN return/length/success where no episode ended.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from .base import EnvStep


class ChunkEpisodes:
    def __init__(self, num_envs: int, obs_dim: int, device: torch.device | str):
        self.num_envs, self.obs_dim, self.device = num_envs, obs_dim, torch.device(device)
        self.episode_return = torch.zeros(num_envs, device=self.device)  # of the running episodes
        self.episode_length = torch.zeros(num_envs, device=self.device)
        self.start_chunk()

    def reset(self) -> None:
        """Every env starts a new episode (after the simulator's reset)."""
        self.episode_return.zero_()
        self.episode_length.zero_()

    def start_chunk(self) -> None:
        B, dev = self.num_envs, self.device
        self.reward = torch.zeros(B, device=dev)
        self.ended = torch.zeros(B, dtype=torch.bool, device=dev)
        self.terminated = torch.zeros(B, dtype=torch.bool, device=dev)
        self.truncated = torch.zeros(B, dtype=torch.bool, device=dev)
        nan = torch.full((B,), math.nan, device=dev)
        self.ended_return, self.ended_length, self.success = nan.clone(), nan.clone(), nan.clone()
        self.final_obs: Tensor | None = None

    def record(self, reward: Tensor, terminated: Tensor, truncated: Tensor, final_obs: Callable[[], Tensor],
               success: Callable[[], Tensor] | None = None) -> Tensor:
        """One simulator step of every env: reward (B,) float32, terminated / truncated (B,) bool (truncated
        only where not terminated). final_obs() and success() are called only when an episode ended, and give
        (B, obs_dim) and (B,) for every env (read where done). Returns done (B,)."""
        done = terminated | truncated
        first = done & ~self.ended  # the first end of an episode inside this chunk
        self.reward += torch.where(self.ended, 0.0, reward)
        self.episode_return += reward
        self.episode_length += 1
        if bool(done.any()):
            if self.final_obs is None:
                self.final_obs = torch.zeros(self.num_envs, self.obs_dim, device=self.device)
            self.final_obs = torch.where(first[:, None], final_obs(), self.final_obs)
            self.terminated |= first & terminated
            self.truncated |= first & truncated
            self.ended_return = torch.where(first, self.episode_return, self.ended_return)
            self.ended_length = torch.where(first, self.episode_length, self.ended_length)
            if success is not None:
                self.success = torch.where(first, success().float(), self.success)
            self.episode_return = torch.where(done, 0.0, self.episode_return)
            self.episode_length = torch.where(done, 0.0, self.episode_length)
            self.ended |= done
        return done

    def finish(self, obs: Tensor, device: torch.device | str | None = None) -> EnvStep:
        """The chunk's EnvStep, given the observation after its last action; tensors moved to `device`."""
        final_obs = obs.clone() if self.final_obs is None else torch.where(self.ended[:, None], self.final_obs, obs)
        to = self.device if device is None else device
        return EnvStep(obs=obs.to(to), reward=self.reward.to(to), terminated=self.terminated.to(to),
                       truncated=self.truncated.to(to), final_obs=final_obs.to(to), episode_return=self.ended_return.to(to),
                       episode_length=self.ended_length.to(to), success=self.success.to(to))
