"""The three "How to add ..." recipes of the README, each walked through with a tiny example that
touches only what its recipe names (here: a class in this file, the registry line via monkeypatch,
and the YAML file written into a copy of configs/).
"""

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

import finetune.algos as algos
import genpo.envs as envs
import genpo.samplers as samplers
from finetune.algos import Act, Algorithm
from finetune.config import finetune_config_class
from finetune.runner import FinetuneRun
from genpo.checkpoint import load_policy, save_policy
from genpo.config import CONFIG_DIR, load_config
from genpo.envs import BatchedEnv, EnvConfig
from genpo.envs.episodes import ChunkEpisodes
from genpo.policies import FlowPolicy, FlowPolicyConfig
from genpo.samplers import EulerSampler, SampleOutput, Sampler, SamplerConfig, normal_log_density
from genpo.samplers.base import broadcast_time, time_grid

TINY = ["task.env.num_envs=2", "task.env.max_episode_steps=40", "ppo.steps_per_iter=8", "ppo.minibatch_size=8",
        "ppo.epochs=2", "ppo.critic_warmup_iters=0", "ppo.critic_hidden=[32,32]", "eval_episodes=2", "eval_every=1",
        "save_video=false", "ppo.iterations=2"]


def configs_with(tmp_path: Path, files: dict[str, str]) -> Path:
    """A copy of configs/ with the recipe's YAML files added."""
    root = shutil.copytree(CONFIG_DIR, tmp_path / "configs")
    for name, text in files.items():
        (root / name).write_text(text)
    return root


# ---- How to add an algorithm: finetune/algos/<name>.py, a line in ALGORITHMS, configs/algo/<name>.yaml --------
@dataclass
class NoisyODEConfig:
    std: float = 0.1  # exploration noise added to the zero-sampling action, normalised action units


class NoisyODE(Algorithm):
    """Toy algorithm: act = the flow's deterministic action (z = 0) + N(0, std^2) noise; exact Gaussian log-prob."""

    name = "noisy_ode"
    config_class = NoisyODEConfig

    def mean(self, obs: Tensor) -> Tensor:
        return self.policy.sample(obs, zero=True).sample.action

    @torch.no_grad()
    def act(self, obs: Tensor, generator: torch.Generator | None = None) -> Act:
        mean = self.mean(obs)
        action = mean + self.cfg.std * torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        return Act(self.policy.to_env_actions(action), action, self.log_prob(obs, action))

    def log_prob(self, obs: Tensor, stored: Tensor) -> Tensor:
        return normal_log_density(stored, self.mean(obs), self.cfg.std).sum(-1)


def test_add_an_algorithm(monkeypatch, tmp_path, tiny_policy, algorithm_contract):
    monkeypatch.setitem(algos.ALGORITHMS, NoisyODE.name, NoisyODE)  # the registry line
    configs = configs_with(tmp_path, {"algo/noisy_ode.yaml": "algo: noisy_ode\nnoisy_ode:\n  std: 0.2\nppo:\n  clip: 0.1\n"})
    algorithm_contract(NoisyODE, tiny_policy(FlowPolicy).double(), tmp_path)

    checkpoint = save_policy(tiny_policy(FlowPolicy), tmp_path / "start")
    cfg = load_config(finetune_config_class(), "finetune", ["algo=noisy_ode", f"policy.path={checkpoint}",
                                                             f"output_dir={tmp_path / 'run'}", *TINY], config_dir=configs)
    assert cfg.noisy_ode.std == 0.2 and cfg.ppo.clip == 0.1
    run = FinetuneRun(cfg, [])
    summary = run.train()
    assert summary["iterations"] == 2 and np.isfinite(run.logger.rows[-1]["ppo/policy_loss"])
    ran = (tmp_path / "run" / "config.yaml").read_text()
    assert "noisy_ode:" in ran and "genpopp:" not in ran  # the resolved config shows what ran
    assert isinstance(load_policy(tmp_path / "run" / "checkpoints" / "last"), FlowPolicy)


# ---- How to add a sampler: genpo/samplers/<name>.py, a line in FLOW_SAMPLERS (+ SamplerConfig fields) --------
class HeunSampler(Sampler):
    """Toy sampler: Heun's second-order method for dx/dt = v(x, t) from x_0 = z (deterministic)."""

    def __init__(self, num_steps: int, grid=None):
        self.num_steps, self.t = num_steps, time_grid(num_steps, grid, dtype=torch.float64)

    @classmethod
    def from_config(cls, cfg: SamplerConfig) -> "HeunSampler":
        return cls(cfg.num_steps, cfg.grid)

    def latent_shape(self, batch: int, dim: int) -> tuple[int, ...]:
        return (batch, dim)

    def sample(self, velocity, latent: Tensor) -> SampleOutput:
        t, x = self.t.to(latent.dtype), latent
        for i in range(self.num_steps):
            h, slope = t[i + 1] - t[i], velocity(x, broadcast_time(t[i], x))
            x = x + h / 2 * (slope + velocity(x + h * slope, broadcast_time(t[i + 1], x)))
        return SampleOutput(action=x, stored=x, latent=latent, log_prob=None)


class Decay(nn.Module):
    """v(x, s, t) = -x: the flow x(1) = x(0) / e."""

    def forward(self, x: Tensor, obs: Tensor, t: Tensor) -> Tensor:
        return -x


def test_add_a_sampler(monkeypatch, tmp_path):
    monkeypatch.setitem(samplers.FLOW_SAMPLERS, "heun", HeunSampler)  # the registry line
    def config() -> FlowPolicyConfig:
        return FlowPolicyConfig(obs_dim=2, action_dim=3, obs_norm="identity", action_norm="identity",
                                sampler=SamplerConfig(kind="heun", num_steps=4))

    policy = FlowPolicy(config(), velocity_net=Decay()).double()
    z = torch.randn(5, 3, dtype=torch.float64)
    exact = z / np.e
    heun = policy.sample(torch.zeros(5, 2, dtype=torch.float64), z).sample.action
    policy.set_sampler(SamplerConfig(kind="euler", num_steps=4))
    euler = policy.sample(torch.zeros(5, 2, dtype=torch.float64), z).sample.action
    torch.testing.assert_close(heun, z * (1 - 0.25 + 0.25**2 / 2) ** 4)  # Heun's growth factor per step on -x
    assert (heun - exact).abs().max() < 0.1 * (euler - exact).abs().max()  # second order beats first order
    with pytest.raises(TypeError, match="HeunSampler is deterministic"):
        HeunSampler(4).log_prob(None, z)
    reloaded = load_policy(save_policy(FlowPolicy(config()), tmp_path / "heun"))
    assert isinstance(reloaded.sampler, HeunSampler) and not isinstance(reloaded.sampler, EulerSampler)


# ---- How to add a simulator: genpo/envs/<name>.py, a BACKENDS entry, configs/task/<name>.yaml ------------------
class PointEnv(BatchedEnv):
    """Toy torch-native simulator: a point in the plane moved by velocity actions toward the origin.
    reward = -|x|; terminated when |x| < 0.05; truncated after max_episode_steps (default 50)."""

    renders_offscreen = False

    def __init__(self, cfg: EnvConfig):
        self.num_envs, self.obs_dim, self.action_dim, self.action_steps = cfg.num_envs, 2, 2, cfg.action_steps
        self.device, self.limit = torch.device(cfg.device), cfg.max_episode_steps or 50
        self.action_low, self.action_high = -torch.ones(2), torch.ones(2)
        self.episodes = ChunkEpisodes(self.num_envs, self.obs_dim, self.device)
        self.generator = torch.Generator()

    def start(self, envs: Tensor) -> None:
        self.x[envs] = 2 * torch.rand(int(envs.sum()), 2, generator=self.generator) - 1
        self.t[envs] = 0

    def reset(self, seed: int | None = None) -> Tensor:
        if seed is not None:
            self.generator.manual_seed(seed)
        self.x, self.t = torch.zeros(self.num_envs, 2), torch.zeros(self.num_envs)
        self.start(torch.ones(self.num_envs, dtype=torch.bool))
        self.episodes.reset()
        return self.x.clone()

    def step(self, actions: Tensor) -> "envs.EnvStep":
        actions = self.check_actions(actions).clamp(-1, 1)
        self.episodes.start_chunk()
        for i in range(self.action_steps):
            self.x, self.t = self.x + 0.1 * actions[:, i], self.t + 1
            distance = self.x.norm(dim=-1)
            terminated = distance < 0.05
            truncated = (self.t >= self.limit) & ~terminated
            final = self.x.clone()
            done = self.episodes.record(-distance, terminated, truncated, lambda: final)
            self.start(done)
        return self.episodes.finish(self.x.clone())


def make_point_env(cfg: EnvConfig, task: str) -> PointEnv:
    return PointEnv(cfg)


def test_add_a_simulator(monkeypatch, tmp_path):
    backend = envs.Backend(f"{__name__}:make_point_env", resolve=lambda task: task, dims=lambda cfg, task: (2, 2))
    monkeypatch.setitem(envs.BACKENDS, "point", backend)  # the BACKENDS entry
    configs = configs_with(tmp_path, {"task/point.yaml": (
        "task:\n  name: point\n  horizon: 2\n  n_action_steps: 2\n  env:\n    backend: point\n    task: Point-v0\n"
        "    num_envs: 4\n")})
    env = envs.make_env(EnvConfig(backend="point", task="Point-v0", num_envs=3, action_steps=2, max_episode_steps=5))
    env.reset(seed=0)
    steps = [env.step(torch.zeros(3, 2, 2)) for _ in range(3)]  # standing still: truncated at t = 5, in chunk 3
    assert [bool(s.truncated.all()) for s in steps] == [False, False, True]
    assert torch.equal(steps[2].episode_length, torch.full((3,), 5.0))
    torch.testing.assert_close(steps[2].episode_return, sum(s.reward for s in steps))  # the 6th step is not counted

    cfg = load_config(finetune_config_class(), "finetune", ["task=point", "algo=ppo", "policy.from_scratch=true",
                                                             "policy.hidden_dim=32", "policy.num_blocks=1",
                                                             f"output_dir={tmp_path / 'run'}", *TINY], config_dir=configs)
    summary = FinetuneRun(cfg, []).train()
    assert summary["env_steps"] == 2 * 8 * 2 * 2 and np.isfinite(summary["final"]["eval_zero/return_mean"])
