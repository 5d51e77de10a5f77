"""Demonstrations as (observation, action chunk) training pairs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genpo.data import read_dataset


def action_chunks(actions: np.ndarray, episode_index: np.ndarray, horizon: int) -> np.ndarray:
    """(T, d) -> (T, H, d): actions t..t+H-1 of the same episode, the last one repeated past its end."""
    t = np.arange(len(actions))
    last = np.zeros_like(t)
    boundaries = np.flatnonzero(np.diff(episode_index)) + 1  # first frame of every later episode
    ends = np.append(boundaries, len(actions)) - 1
    starts = np.insert(boundaries, 0, 0)
    for start, end in zip(starts, ends):
        last[start : end + 1] = end
    index = np.minimum(t[:, None] + np.arange(horizon)[None, :], last[:, None])
    return actions[index]


@dataclass
class Demonstrations:
    obs: torch.Tensor  # (T, obs_dim)
    actions: torch.Tensor  # (T, H, d)
    stats: dict

    def __len__(self) -> int:
        return len(self.obs)

    @classmethod
    def load(cls, root, obs_key: str, action_key: str, horizon: int) -> Demonstrations:
        data = read_dataset(root)
        for key in (obs_key, action_key):
            if key not in data.columns:
                raise KeyError(f"dataset {root} has no feature {key!r}; it has {sorted(data.columns)}")
        obs = data.columns[obs_key].astype(np.float32).reshape(len(data.episode_index), -1)
        acts = data.columns[action_key].astype(np.float32).reshape(len(data.episode_index), -1)
        chunks = action_chunks(acts, data.episode_index, horizon)
        return cls(torch.from_numpy(obs), torch.from_numpy(chunks), data.stats)
