"""The Berkeley CS285 (2023) expert Gaussian MLP policies for MuJoCo locomotion, in plain numpy.

Weights: ../shared/data/mujoco_experts/policies/{Hopper,Walker2d,...}.npz (MIT licence). Forward
pass (as documented in shared/data/README.md)::

    std  = sqrt(max(0, obsnorm_meansq - obsnorm_mean**2))
    h    = (obs - obsnorm_mean) / (std + 1e-6)
    h    = tanh(h @ hidden0_W + hidden0_b)
    h    = tanh(h @ hidden1_W + hidden1_b)
    mean = h @ out_W + out_b              # Gaussian mean; exp(logstd) is its std

`rollout_episode` runs one episode in a gymnasium env with a fixed, seeded action-noise
corruption; the dataset builders in tools/build_datasets.py use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ExpertPolicy", "Episode", "rollout_episode"]


@dataclass
class ExpertPolicy:
    obs_mean: np.ndarray  # (obs_dim,)
    obs_std: np.ndarray  # (obs_dim,)
    layers: list[tuple[np.ndarray, np.ndarray]]  # hidden (W, b) pairs, tanh after each
    out_w: np.ndarray
    out_b: np.ndarray
    logstd: np.ndarray  # (act_dim,)

    @classmethod
    def load(cls, path: str | Path) -> ExpertPolicy:
        p = np.load(path)
        nonlin = str(p["nonlin"]) if "nonlin" in p.files else "tanh"
        if nonlin != "tanh":
            raise ValueError(f"{path}: unsupported nonlinearity {nonlin!r}")
        mean = p["obsnorm_mean"].reshape(-1)
        meansq = p["obsnorm_meansq"].reshape(-1)
        layers = []
        i = 0
        while f"hidden{i}_W" in p.files:
            layers.append((p[f"hidden{i}_W"], p[f"hidden{i}_b"].reshape(-1)))
            i += 1
        return cls(
            obs_mean=mean,
            obs_std=np.sqrt(np.maximum(0.0, meansq - mean**2)),
            layers=layers,
            out_w=p["out_W"],
            out_b=p["out_b"].reshape(-1),
            logstd=p["logstd"].reshape(-1),
        )

    @property
    def obs_dim(self) -> int:
        return int(self.obs_mean.shape[0])

    @property
    def act_dim(self) -> int:
        return int(self.out_b.shape[0])

    @property
    def std(self) -> np.ndarray:
        return np.exp(self.logstd)

    def mean_action(self, obs: np.ndarray) -> np.ndarray:
        """Gaussian mean for (obs_dim,) or (B, obs_dim) float observations (float64 math)."""
        h = (np.asarray(obs, dtype=np.float64) - self.obs_mean) / (self.obs_std + 1e-6)
        for w, b in self.layers:
            h = np.tanh(h @ w + b)
        return h @ self.out_w + self.out_b


@dataclass
class Episode:
    obs: np.ndarray  # (T, obs_dim) observation the action was taken in
    action: np.ndarray  # (T, act_dim) executed action, clipped to [-1, 1]
    reward: np.ndarray  # (T,)
    terminated: np.ndarray  # (T,) bool
    truncated: np.ndarray  # (T,) bool

    @property
    def length(self) -> int:
        return int(self.obs.shape[0])

    @property
    def ret(self) -> float:
        return float(self.reward.sum())


def rollout_episode(
    env,
    policy: ExpertPolicy,
    *,
    reset_seed: int,
    noise_std: float = 0.0,
    noise_rng: np.random.Generator | None = None,
    max_steps: int | None = None,
) -> Episode:
    """One episode: action = clip(mean(obs) + noise_std * N(0, I), -1, 1).

    noise_std 0 gives the deterministic expert. The env's own time limit (TimeLimit wrapper)
    truncates; `max_steps` adds a hard cap (counted as truncation).
    """
    if noise_std > 0 and noise_rng is None:
        raise ValueError("noise_std > 0 needs a noise_rng")
    obs, _ = env.reset(seed=int(reset_seed))
    if obs.shape[-1] != policy.obs_dim:
        raise ValueError(f"env observation has {obs.shape[-1]} dims, policy expects {policy.obs_dim}")
    obs_l, act_l, rew_l, term_l, trunc_l = [], [], [], [], []
    t = 0
    while True:
        a = policy.mean_action(obs)
        if noise_std > 0:
            a = a + noise_std * noise_rng.standard_normal(policy.act_dim)
        a = np.clip(a, -1.0, 1.0)
        next_obs, r, term, trunc, _ = env.step(a)
        t += 1
        if max_steps is not None and t >= max_steps:
            trunc = True
        obs_l.append(obs)
        act_l.append(a)
        rew_l.append(r)
        term_l.append(bool(term))
        trunc_l.append(bool(trunc) and not bool(term))
        obs = next_obs
        if term or trunc:
            break
    return Episode(
        obs=np.asarray(obs_l, dtype=np.float32),
        action=np.asarray(act_l, dtype=np.float32),
        reward=np.asarray(rew_l, dtype=np.float64),
        terminated=np.asarray(term_l, dtype=bool),
        truncated=np.asarray(trunc_l, dtype=bool),
    )
