"""The real IsaacLab 3.0: Isaac-Cartpole on Newton physics on the CPU (no Isaac Sim), through make_env and a
GenPO++ fine-tuning run. The asset mirror and the Warp kernel cache are the project's (.cache/isaaclab);
the first run compiles Warp kernels (a few minutes on 2 cores), later runs start in seconds.
IsaacLab allows one simulation per process: each test closes its env before the next one makes its own."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch

pytest.importorskip("isaaclab")

from finetune.run import main as finetune_main  # noqa: E402
from genpo.checkpoint import save_policy  # noqa: E402
from genpo.envs import EnvConfig, make_env  # noqa: E402
from genpo.policies.flow import FlowPolicy, FlowPolicyConfig, SamplerConfig  # noqa: E402

pytestmark = pytest.mark.slow
T = 40  # episode length used here (time-outs), in env steps
CART_LIMIT = 3.0  # Isaac-Cartpole terminates when the cart leaves [-3, 3] m


@pytest.fixture(scope="module")
def cartpole():
    env = make_env(EnvConfig(backend="isaaclab", task="Isaac-Cartpole", num_envs=8, max_episode_steps=T, seed=0))
    yield env
    env.close()


def push_half(num_envs: int) -> torch.Tensor:
    """Full force on envs 0-3 (their carts leave the track: terminated), none on 4-7 (they time out)."""
    actions = torch.zeros(num_envs, 1, 1)
    actions[: num_envs // 2] = 1.0
    return actions


def test_reset_step_shapes_and_bounds(cartpole):
    assert (cartpole.obs_dim, cartpole.action_dim, cartpole.num_envs) == (4, 1, 8)
    assert cartpole.action_low.tolist() == [-1.0] and cartpole.action_high.tolist() == [1.0]  # clip of the unbounded space
    obs = cartpole.reset(seed=0)
    assert obs.shape == (8, 4) and obs.dtype == torch.float32 and torch.isfinite(obs).all()
    step = cartpole.step(torch.zeros(8, 1, 1))
    for name in ("reward", "terminated", "truncated", "episode_return", "episode_length", "success"):
        assert getattr(step, name).shape == (8,), name
    assert step.obs.shape == step.final_obs.shape == (8, 4)
    with pytest.raises(ValueError, match="action_steps, action_dim"):
        cartpole.step(torch.zeros(8, 2))


def test_terminated_truncated_final_obs_and_episode_log(cartpole):
    cartpole.reset(seed=1)
    cartpole.pop_episode_log()
    terminated_seen = torch.zeros(8, dtype=torch.bool)
    truncated_seen = torch.zeros(8, dtype=torch.bool)
    for t in range(1, T + 1):
        step = cartpole.step(push_half(8))
        if step.terminated.any():  # the pre-reset observation, read only for the rows done now
            rows = step.terminated
            assert (step.final_obs[rows, 0].abs() > CART_LIMIT).all()
            assert (step.obs[rows, 0].abs() <= 1.0 + 1e-5).all()  # the new episode's start: cart within [-1, 1]
            torch.testing.assert_close(step.final_obs[~step.done], step.obs[~step.done])
        if step.truncated.any():
            assert t == T and (step.episode_length[step.truncated] == T).all()
        terminated_seen |= step.terminated
        truncated_seen |= step.truncated
    assert terminated_seen[:4].all() and not terminated_seen[4:].any()
    assert truncated_seen[4:].all()
    log = cartpole.pop_episode_log()
    assert {"Episode_Termination/time_out", "Episode_Termination/cart_out_of_bounds", "Episode_Reward/alive"} <= set(log)
    assert all(math.isfinite(v) for v in log.values())


def test_seeded_resets_reproduce(cartpole):
    def trajectory(seed: int) -> torch.Tensor:
        observations = [cartpole.reset(seed=seed)]
        gen = torch.Generator().manual_seed(5)
        for _ in range(15):
            observations.append(cartpole.step(torch.rand(8, 1, 1, generator=gen) * 2 - 1).obs)
        return torch.stack(observations)

    first, again, other = trajectory(3), trajectory(3), trajectory(4)
    assert torch.equal(first, again)
    assert not torch.equal(first[0], other[0])


def tiny_cartpole_flow(tmp_path):
    torch.manual_seed(0)
    ones = np.ones(4)
    stats = {"observation.state": {"min": -3 * ones, "max": 3 * ones, "mean": 0 * ones, "std": ones},
             "action": {"min": -np.ones(1), "max": np.ones(1), "mean": np.zeros(1), "std": np.ones(1)}}
    config = FlowPolicyConfig(obs_dim=4, action_dim=1, horizon=4, n_action_steps=2, hidden_dim=32, num_blocks=1,
                              sampler=SamplerConfig(num_steps=4))
    return save_policy(FlowPolicy(config, stats), tmp_path / "flow")


def test_two_genpopp_iterations_on_isaaclab_cartpole(tmp_path, cartpole):
    cartpole.close()  # one IsaacLab simulation per process
    summary = finetune_main(["task=isaaclab_cartpole", f"policy.path={tiny_cartpole_flow(tmp_path)}",
                             "task.env.num_envs=16", "task.env.max_episode_steps=24", "ppo.iterations=2",
                             "ppo.steps_per_iter=16", "ppo.minibatch_size=64", "ppo.epochs=2", "ppo.critic_warmup_iters=0",
                             "eval_episodes=16", "eval_every=1", "save_video=false", f"output_dir={tmp_path / 'run'}"])
    assert summary["iterations"] == 2 and summary["env_steps"] == 2 * 16 * 16 * 2
    with open(tmp_path / "run" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["step"]) for r in rows] == [0, 1, 2]
    for row in rows[1:]:
        for key in ("train/return", "ppo/kl", "eval_zero/return_mean", "env/Episode_Termination/time_out"):
            assert math.isfinite(float(row[key])), key
        assert float(row["ppo/ratio_check"]) <= 1e-5
    assert (tmp_path / "run" / "checkpoints" / "last" / "model.safetensors").is_file()
