"""The env layer: gymnasium MuJoCo/PushT adapters, the IsaacLab adapter (against a contract env), make_env."""

from __future__ import annotations

import contextlib
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch

from genpo.envs import EnvConfig, env_spec, make_env, resolve_isaaclab_task, resolve_task
from genpo.envs.gym_vector import ActionChunk, GymVectorEnv

sys.path.insert(0, str(Path(__file__).parent))
from isaaclab_contract import PointMassReachEnv, install_fake_isaaclab  # noqa: E402

B = 3


def hopper(num_envs=B, k=1, **kw) -> GymVectorEnv:
    return make_env(EnvConfig(backend="mujoco", task="Hopper-v5", num_envs=num_envs, action_steps=k, **kw))


class Reference:
    """Independent per-env semantics: plain gym envs, a chunk stops at the first end, same-step reset."""

    def __init__(self, task, seed, n, max_episode_steps=None, **kwargs):
        if task.startswith("gym_pusht"):
            import gym_pusht  # noqa: F401
        self.envs = [gym.make(task, max_episode_steps=max_episode_steps, **kwargs) for _ in range(n)]
        self.obs = [e.reset(seed=seed + j)[0] for j, e in enumerate(self.envs)]
        self.ret = [0.0] * n
        self.len = [0] * n

    def step(self, j, chunk):
        env, total = self.envs[j], 0.0
        for a in chunk:
            obs, r, term, trunc, _ = env.step(a)
            total += r
            self.ret[j] += r
            self.len[j] += 1
            if term or trunc:
                out = dict(reward=total, term=term, trunc=trunc and not term, final=obs, ret=self.ret[j], len=self.len[j])
                self.ret[j], self.len[j] = 0.0, 0
                self.obs[j] = env.reset()[0]
                return out | dict(obs=self.obs[j])
        self.obs[j] = obs
        return dict(reward=total, term=False, trunc=False, final=obs, ret=math.nan, len=math.nan, obs=obs)


def assert_matches_reference(env, ref, actions):
    step = env.step(torch.as_tensor(actions))
    for j in range(env.num_envs):
        want = ref.step(j, np.clip(actions[j], env.action_low.numpy(), env.action_high.numpy()))
        assert step.reward[j].item() == pytest.approx(want["reward"], rel=1e-5, abs=1e-5)
        assert bool(step.terminated[j]) == want["term"] and bool(step.truncated[j]) == want["trunc"]
        np.testing.assert_allclose(step.obs[j].numpy(), want["obs"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(step.final_obs[j].numpy(), want["final"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(step.episode_return[j].item(), want["ret"], rtol=1e-5, atol=1e-4)
        np.testing.assert_equal(step.episode_length[j].item(), want["len"])
    return step


# ---- MuJoCo ----------------------------------------------------------------------------------
def test_hopper_shapes_dtypes_and_bounds():
    env = hopper(k=2)
    try:
        assert (env.num_envs, env.obs_dim, env.action_dim, env.action_steps) == (B, 11, 3, 2)
        assert env.action_low.tolist() == [-1.0] * 3 and env.action_high.tolist() == [1.0] * 3
        obs = env.reset(seed=0)
        assert obs.shape == (B, 11) and obs.dtype == torch.float32
        step = env.step(torch.zeros(B, 2, 3))
        assert step.obs.shape == step.final_obs.shape == (B, 11) and step.obs.dtype == torch.float32
        for name in ("reward", "episode_return", "episode_length", "success"):
            assert getattr(step, name).shape == (B,) and getattr(step, name).dtype == torch.float32
        assert step.terminated.dtype == step.truncated.dtype == torch.bool
        assert torch.isnan(step.success).all()  # MuJoCo defines no success
        with pytest.raises(ValueError, match="shape"):
            env.step(torch.zeros(B, 3))
    finally:
        env.close()


def test_hopper_seeding_reproducible_and_env_j_gets_seed_plus_j():
    a, b = hopper(), hopper()
    try:
        obs_a, obs_b = a.reset(seed=7), b.reset(seed=7)
        assert torch.equal(obs_a, obs_b)
        assert not torch.equal(obs_a[0], obs_a[1])
        for j in range(B):
            single = gym.make("Hopper-v5")
            np.testing.assert_allclose(obs_a[j].numpy(), single.reset(seed=7 + j)[0], rtol=1e-6)
        actions = torch.rand(10, B, 1, 3, generator=torch.Generator().manual_seed(0)) * 2 - 1
        for t in range(10):
            sa, sb = a.step(actions[t]), b.step(actions[t])
            assert torch.equal(sa.obs, sb.obs) and torch.equal(sa.reward, sb.reward)
        assert not torch.equal(a.reset(seed=8), obs_a)
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("self_reset", [False, True], ids=["same_step_autoreset", "wrapper_autoreset"])
def test_hopper_chunks_match_reference_through_terminations(self_reset):
    """k=4 with large random actions: hoppers fall mid-chunk. Every field equals the reference."""
    env = GymVectorEnv(EnvConfig(task="Hopper-v5", num_envs=B, action_steps=4), "Hopper-v5", self_reset=self_reset)
    ref = Reference("Hopper-v5", seed=3, n=B)
    rng = np.random.default_rng(0)
    try:
        env.reset(seed=3)
        ended = 0
        for _ in range(25):
            step = assert_matches_reference(env, ref, rng.uniform(-1.5, 1.5, size=(B, 4, 3)).astype(np.float32))
            ended += int(step.terminated.sum())
            lengths = step.episode_length[~torch.isnan(step.episode_length)]
            assert (lengths > 0).all()
        assert ended >= 3
    finally:
        env.close()


def test_hopper_truncation_inside_a_chunk():
    """max_episode_steps=10, k=4: chunks of 4, 4, then 2 steps; truncated, not terminated."""
    env = hopper(k=4, max_episode_steps=10)
    ref = Reference("Hopper-v5", seed=0, n=B, max_episode_steps=10)
    zeros = np.zeros((B, 4, 3), dtype=np.float32)
    try:
        env.reset(seed=0)
        first = assert_matches_reference(env, ref, zeros)
        assert not first.done.any()
        assert_matches_reference(env, ref, zeros)
        single = gym.make("Hopper-v5")
        single.reset(seed=0)
        rewards = [single.step(np.zeros(3))[1] for _ in range(10)]
        step = assert_matches_reference(env, ref, zeros)
        assert step.truncated.all() and not step.terminated.any()
        assert (step.episode_length == 10).all()
        assert step.reward[0].item() == pytest.approx(sum(rewards[8:]), rel=1e-5)  # only 2 steps executed
        assert step.episode_return[0].item() == pytest.approx(sum(rewards), rel=1e-5)
        assert ((step.final_obs - step.obs).abs().amax(dim=1) > 1e-3).all()
    finally:
        env.close()


def test_hopper_clips_actions_to_bounds():
    a, b = hopper(), hopper()
    try:
        a.reset(seed=1)
        b.reset(seed=1)
        big = torch.tensor([[[5.0, -5.0, 0.3]]]).repeat(B, 1, 1)
        sa, sb = a.step(big), b.step(big.clamp(-1, 1))
        assert torch.equal(sa.obs, sb.obs) and torch.equal(sa.reward, sb.reward)
    finally:
        a.close()
        b.close()


def test_hopper_async_equals_sync():
    actions = torch.rand(6, 2, 2, 3, generator=torch.Generator().manual_seed(1)) * 2 - 1
    results = []
    for mode in ("sync", "async"):
        env = hopper(num_envs=2, k=2, vector_mode=mode)
        try:
            obs = [env.reset(seed=5)]
            obs += [env.step(actions[t]).obs for t in range(6)]
        finally:
            env.close()
        results.append(torch.stack(obs))
    torch.testing.assert_close(results[0], results[1])


def test_hopper_render_returns_frame_or_none():
    env = hopper(num_envs=1, kwargs={"render_mode": "rgb_array"})
    try:
        env.reset(seed=0)
        frame = env.render()
        assert frame is None or (frame.ndim == 3 and frame.shape[-1] == 3 and frame.dtype == np.uint8)
    finally:
        env.close()
    plain = hopper(num_envs=1)
    try:
        plain.reset(seed=0)
        assert plain.render() is None
    finally:
        plain.close()


def test_env_spec_matches_real_envs():
    for task in ("Hopper-v5", "Walker2d-v5", "HalfCheetah-v5", "Ant-v5"):
        env = gym.make(task)
        assert env_spec(EnvConfig(task=task)) == (env.observation_space.shape[0], env.action_space.shape[0])
    # constructor kwargs that change the observation: answered with one single env
    assert env_spec(EnvConfig(task="Ant-v5", kwargs={"include_cfrc_ext_in_observation": False})) == (27, 8)
    assert env_spec(EnvConfig(backend="pusht", task="PushT-v0")) == (5, 2)
    assert env_spec(EnvConfig(backend="pusht", task="PushT-v0", kwargs={"damping": 0.1})) == (5, 2)


# ---- PushT -----------------------------------------------------------------------------------
def test_pusht_reset_step_truncation_and_success():
    env = make_env(EnvConfig(backend="pusht", task="PushT-v0", num_envs=2, action_steps=8, max_episode_steps=16))
    try:
        assert (env.obs_dim, env.action_dim) == (5, 2)
        assert env.action_low.tolist() == [0.0, 0.0] and env.action_high.tolist() == [512.0, 512.0]
        obs = env.reset(seed=0)
        assert obs.shape == (2, 5) and obs.dtype == torch.float32
        assert (obs[:, :4] >= 0).all() and (obs[:, :4] <= 512).all() and (obs[:, 4] <= 2 * math.pi).all()
        hold = obs[:, None, :2].repeat(1, 8, 1)  # agents stay where they are: nothing moves
        step = env.step(hold)
        assert not step.done.any() and torch.isnan(step.success).all()
        assert ((step.reward >= 0) & (step.reward <= 8)).all()
        step = env.step(step.obs[:, None, :2].repeat(1, 8, 1))
        assert step.truncated.all() and (step.episode_length == 16).all()
        assert (step.success == 0).all()  # an ended PushT episode always reports success 0/1
        frame = env.render()
        assert frame is not None and frame.ndim == 3 and frame.shape[-1] == 3

        # put env 0's block on the goal pose: the first step of the chunk succeeds and ends it
        inner = env._venv.envs[0].unwrapped
        inner.block.angle, inner.block.position, inner.agent.position = math.pi / 4, (256.0, 256.0), (60.0, 60.0)
        actions = step.obs[:, None, :2].repeat(1, 8, 1)
        actions[0] = torch.tensor([60.0, 60.0])
        step = env.step(actions)
        assert step.terminated[0] and step.success[0] == 1 and step.episode_length[0] == 1
        assert step.reward[0].item() == pytest.approx(1.0)
        assert not step.done[1] and torch.isnan(step.success[1])
    finally:
        env.close()


def test_pusht_matches_reference():
    env = make_env(EnvConfig(backend="pusht", task="gym_pusht/PushT-v0", num_envs=2, action_steps=4, max_episode_steps=10))
    ref = Reference("gym_pusht/PushT-v0", seed=11, n=2, max_episode_steps=10, obs_type="state")
    rng = np.random.default_rng(0)
    try:
        env.reset(seed=11)
        for _ in range(4):
            assert_matches_reference(env, ref, rng.uniform(-20, 530, size=(2, 4, 2)).astype(np.float32))
    finally:
        env.close()


# ---- IsaacLab adapter against the contract env ---------------------------------------------
@pytest.fixture
def isaac(monkeypatch, tmp_path):
    """make(k, num_envs, task, env_kwargs, final_obs, **EnvConfig fields) -> (IsaacLabEnv, record): the real
    launch code of genpo.envs.isaaclab against the contract env through fake isaaclab modules."""

    def make(k=1, num_envs=4, task="Isaac-Contract-Reach-v0", env_kwargs=None, final_obs=True, **kwargs):
        record = make.last_record = install_fake_isaaclab(monkeypatch, tmp_path, final_obs=final_obs, **(env_kwargs or {}))
        cfg = EnvConfig(backend="isaaclab", task=task, num_envs=num_envs, action_steps=k,
                        kwargs={"obs_dim": 6, "action_dim": 2, **kwargs.pop("kwargs", {})}, **kwargs)
        return make_env(cfg), record

    return make


def test_isaaclab_obs_dims_clipping_and_alias(isaac):
    env, record = isaac(seed=7)
    assert env.task == "Isaac-Contract-Reach"  # a 2.x-style "-v0" id -> the registered 3.x id
    cfg, launcher_args = record.launches[0]
    assert cfg.seed == 7 and cfg.compute_final_obs and launcher_args == {"device": "cpu", "visualizer": []}
    assert (env.obs_dim, env.action_dim) == (6, 2)  # "policy" group, not "critic" (8)
    assert env.action_low.tolist() == [-1.0, -1.0] and env.action_high.tolist() == [1.0, 1.0]
    obs = env.reset(seed=0)
    assert obs.shape == (4, 6) and obs.dtype == torch.float32
    step = env.step(torch.tensor([[5.0, -0.5]]).repeat(4, 1, 1))
    assert record.envs[-1].raw_actions.tolist() == [[1.0, -0.5]] * 4
    assert step.obs.shape == (4, 6) and torch.isnan(step.success).all()

    env.close()
    wide, f2 = isaac(kwargs={"clip_actions": 3.0})
    wide.reset(seed=0)
    wide.step(torch.full((4, 1, 2), 5.0))
    assert (f2.envs[-1].raw_actions == 3.0).all()
    free, f3 = isaac(kwargs={"clip_actions": None})
    free.reset(seed=0)
    free.step(torch.full((4, 1, 2), 5.0))
    assert (f3.envs[-1].raw_actions == 5.0).all() and torch.isinf(free.action_high).all()

    with pytest.raises(ValueError, match=r"\(obs_dim, action_dim\)"):
        isaac(kwargs={"obs_dim": 8})
    failed = isaac.last_record  # the failed constructor closed its env and its simulation launch
    assert failed.exits == len(failed.launches) == 1 and failed.envs[-1].closed


@pytest.mark.parametrize("final_in_extras", [False, True], ids=["isaaclab2", "isaaclab3_final_obs"])
def test_isaaclab_chunks_stats_and_final_obs(isaac, final_in_extras):
    """k=3 with episodes of 7 steps: ends fall inside chunks. Compare with a directly stepped env."""
    k, n, T = 3, 4, 7
    env, _ = isaac(k=k, num_envs=n, max_episode_steps=T, kwargs={"success_term": "success"},
                   env_kwargs={"goal_radius": 0.3}, final_obs=final_in_extras)
    ref = PointMassReachEnv(num_envs=n, max_episode_length=T, compute_final_obs=True, goal_radius=0.3)
    torch.testing.assert_close(env.reset(seed=4), ref.reset(seed=4)[0]["policy"])
    gen = torch.Generator().manual_seed(0)
    ret, length = torch.zeros(n), torch.zeros(n)
    ended_episodes = 0
    for _ in range(12):
        actions = torch.randn(n, k, 2, generator=gen) * 2
        step = env.step(actions)
        want_reward, ended = torch.zeros(n), torch.zeros(n, dtype=torch.bool)
        want_ret, want_len = torch.full((n,), math.nan), torch.full((n,), math.nan)
        want_term, want_trunc = torch.zeros(n, dtype=torch.bool), torch.zeros(n, dtype=torch.bool)
        want_final, want_success = None, torch.full((n,), math.nan)
        for i in range(k):
            obs, r, term, trunc, extras = ref.step(actions[:, i].clamp(-1, 1))
            done = term | trunc
            first = done & ~ended
            want_reward += torch.where(ended, 0.0, r)
            ret += r
            length += 1
            want_ret = torch.where(first, ret, want_ret)
            want_len = torch.where(first, length, want_len)
            want_term |= first & term
            want_trunc |= first & trunc & ~term
            want_success = torch.where(first, ref.termination_manager.get_term("success").float(), want_success)
            # 3.x: the pre-reset obs; 2.x: the obs the step returned, i.e. the new episode's first (the bias)
            final_now = (extras["final_obs"]["policy"] if final_in_extras and done.any() else obs["policy"]).clone()
            want_final = final_now if want_final is None else torch.where(first[:, None], final_now, want_final)
            ret, length = torch.where(done, 0.0, ret), torch.where(done, 0.0, length)
            ended |= done
        want_final = torch.where(ended[:, None], want_final, obs["policy"])
        torch.testing.assert_close(step.obs, obs["policy"])
        torch.testing.assert_close(step.reward, want_reward)
        assert torch.equal(step.terminated, want_term) and torch.equal(step.truncated, want_trunc)
        torch.testing.assert_close(step.final_obs, want_final)
        torch.testing.assert_close(step.episode_return, want_ret, equal_nan=True)
        torch.testing.assert_close(step.episode_length, want_len, equal_nan=True)
        torch.testing.assert_close(step.success, want_success, equal_nan=True)
        ended_episodes += int(ended.sum())
    assert ended_episodes >= n * 3
    log = env.pop_episode_log()
    assert {"Episode_Reward/distance", "Episode_Termination/time_out", "Episode_Termination/success"} <= set(log)
    assert env.pop_episode_log() == {}


def test_isaaclab_episode_return_is_independent_sum(isaac):
    """Episodes of 5 steps, k=2: the first ends at step 4 (3rd chunk, whose 2nd step starts episode 2);
    the 2nd episode (steps 5..9) includes that leftover step and ends in the 5th chunk."""
    env, record = isaac(k=2, num_envs=2, max_episode_steps=5, env_kwargs={"goal_radius": 0.0})
    env.reset(seed=0)
    inner, rewards = record.envs[-1], []
    original = inner.step
    inner.step = lambda action: (out := original(action), rewards.append(out[1].clone()))[0]
    steps = [env.step(torch.full((2, 2, 2), 0.1)) for _ in range(5)]
    rewards = torch.stack(rewards)
    assert [bool(s.done.any()) for s in steps] == [False, False, True, False, True]
    torch.testing.assert_close(steps[2].episode_return, rewards[0:5].sum(0))
    torch.testing.assert_close(steps[2].reward, rewards[4])  # the leftover step is not in this reward
    torch.testing.assert_close(steps[4].episode_return, rewards[5:10].sum(0))
    assert (steps[2].episode_length == 5).all() and (steps[4].episode_length == 5).all()


def test_isaaclab_finite_horizon_time_out_is_terminal(isaac):
    env, _ = isaac(max_episode_steps=3, env_kwargs={"finite_horizon": True, "goal_radius": 0.0})
    env.reset(seed=0)
    for _ in range(2):
        assert not env.step(torch.zeros(4, 1, 2)).done.any()
    step = env.step(torch.zeros(4, 1, 2))
    assert step.terminated.all() and not step.truncated.any()


def test_isaaclab_alias_resolution():
    assert resolve_isaaclab_task("Isaac-Cartpole-v0", ["Isaac-Cartpole", "Isaac-Ant"]) == "Isaac-Cartpole"
    assert resolve_isaaclab_task("Isaac-Cartpole", ["Isaac-Cartpole-v0"]) == "Isaac-Cartpole-v0"
    assert resolve_isaaclab_task("Isaac-Cartpole-v0", ["Isaac-Cartpole-v0", "Isaac-Cartpole"]) == "Isaac-Cartpole-v0"
    anymal = "Isaac-Velocity-Flat-AnymalD"
    assert resolve_isaaclab_task("Isaac-Velocity-Flat-Anymal-D-v0", [anymal]) == anymal
    assert resolve_isaaclab_task("Isaac-Lift-Cube-Franka", ["Isaac-Lift-Cube-Franka-v0"]) == "Isaac-Lift-Cube-Franka-v0"
    assert (
        resolve_isaaclab_task("Isaac-Dexsuite-Kuka-Allegro-Lift-v0", ["Isaac-Lift-KukaAllegro"])
        == "Isaac-Lift-KukaAllegro"
    )
    assert (
        resolve_isaaclab_task("Isaac-Stack-Cube-Franka-v0", ["IsaacContrib-Stack-Cube-Franka"])
        == "IsaacContrib-Stack-Cube-Franka"
    )
    assert resolve_isaaclab_task("Isaac-My-Task-v0", ["Isaac-My-Task"]) == "Isaac-My-Task"  # generic -v0 drop
    with pytest.raises(ValueError, match="closest: Isaac-Humanoid"):
        resolve_isaaclab_task("Isaac-Humanoidd-v0", ["Isaac-Humanoid", "Isaac-Ant"])


def test_isaaclab_render_and_close(isaac):
    env, record = isaac(kwargs={"render_mode": "rgb_array"})
    env.reset(seed=0)
    assert env.render().shape == (64, 64, 3)
    env.close()
    assert record.envs[-1].closed and record.exits == 1  # the env, then its simulation launch


def test_isaaclab_missing_gives_one_clear_error(monkeypatch, tmp_path):
    install_fake_isaaclab(monkeypatch, tmp_path)
    monkeypatch.setitem(sys.modules, "isaaclab_tasks", None)  # import isaaclab_tasks -> ImportError
    with pytest.raises(ImportError, match=r"needs IsaacLab 3\.0 .*\[isaaclab\]"):
        make_env(EnvConfig(backend="isaaclab", task="Isaac-Contract-Reach", num_envs=2))


def test_isaaclab_needing_kit_is_a_clear_error_not_an_exit(monkeypatch, tmp_path):
    """IsaacLab 3.0 raises SystemExit when a config needs Isaac Sim (Kit); the adapter turns it into an error."""
    install_fake_isaaclab(monkeypatch, tmp_path)

    @contextlib.contextmanager
    def needs_kit(cfg, launcher_args=None):
        raise SystemExit(1)
        yield

    monkeypatch.setattr(sys.modules["isaaclab.app"], "launch_simulation", needs_kit)
    with pytest.raises(RuntimeError, match="needs Isaac Sim \\(Kit\\), which is not installed"):
        make_env(EnvConfig(backend="isaaclab", task="Isaac-Contract-Reach", num_envs=2))


def test_isaaclab_direct_env_in_place_buffers_and_random_episode_lengths(isaac):
    """A Direct-style env (no termination manager, Metrics/ log) whose reward/done tensors are rewritten in
    place every step: what the adapter returns must not change when the env steps again."""
    env, record = isaac(
        task="Isaac-Contract-Reach-Direct",
        num_envs=8,
        max_episode_steps=10,
        kwargs={"obs_dim": 6, "action_dim": 2, "random_initial_episode_length": True},
        env_kwargs={"goal_radius": 0.0},
    )
    inner = record.envs[-1]
    assert not hasattr(inner, "termination_manager")
    env.reset(seed=0)
    assert 0 <= int(inner.episode_length_buf.min()) and int(inner.episode_length_buf.max()) < 10
    assert inner.episode_length_buf.unique().numel() > 1  # spread, so time-outs do not all coincide
    first = env.step(torch.zeros(8, 1, 2))
    kept = (first.reward.clone(), first.truncated.clone(), first.obs.clone())
    steps = [env.step(torch.zeros(8, 1, 2)) for _ in range(12)]
    assert (
        torch.equal(first.reward, kept[0]) and torch.equal(first.truncated, kept[1]) and torch.equal(first.obs, kept[2])
    )
    assert steps[0].reward.data_ptr() != first.reward.data_ptr()
    assert any(s.truncated.any() for s in steps) and "Metrics/success_rate" in env.pop_episode_log()
    with env.evaluation():  # no random episode lengths inside an evaluation
        env.reset(seed=1)
        assert int(inner.episode_length_buf.max()) == 0
    env.reset(seed=2)
    assert inner.episode_length_buf.unique().numel() > 1


def test_isaaclab_evaluation_keeps_curriculum_step_counter_and_training_logs(isaac):
    env, record = isaac(max_episode_steps=3, env_kwargs={"goal_radius": 0.0})
    inner = record.envs[-1]
    calls = []
    inner.curriculum_manager = SimpleNamespace(compute=lambda env_ids=None: calls.append(env_ids))
    env.reset(seed=0)
    for _ in range(3):
        env.step(torch.zeros(4, 1, 2))
    counter, logged_in_training = inner.common_step_counter, len(env._logs)
    assert logged_in_training == 1  # the time-out at step 3
    with env.evaluation():
        inner.curriculum_manager.compute(env_ids=[0])  # what IsaacLab's _reset_idx calls
        for _ in range(5):
            env.step(torch.zeros(4, 1, 2))
        assert len(env._logs) == 1  # the evaluation's own time-out at its 3rd step
    assert calls == [] and inner.common_step_counter == counter
    assert len(env._logs) == logged_in_training  # the evaluation's resets are not reported as training ones
    inner.curriculum_manager.compute(env_ids=[1])
    assert calls == [[1]]


# ---- make_env / env_spec errors ----------------------------------------------------------------
def test_unknown_backend_and_task_errors():
    with pytest.raises(ValueError, match="mujoco, pusht, isaaclab"):
        make_env(EnvConfig(backend="robosuite"))
    with pytest.raises(ValueError, match="Hopper-v5, Walker2d-v5, HalfCheetah-v5, Ant-v5"):
        make_env(EnvConfig(backend="mujoco", task="Humanoid-v5"))
    with pytest.raises(ValueError, match="gym_pusht/PushT-v0"):
        make_env(EnvConfig(backend="pusht", task="PushT-v1"))
    # raised before IsaacLab is imported or started (an ImportError would come from the launch)
    with pytest.raises(ValueError, match="known ones: Isaac-Cartpole, "):
        make_env(EnvConfig(backend="isaaclab", task="Cartpole"))
    with pytest.raises(ValueError, match="unknown env backend"):
        env_spec(EnvConfig(backend="gym"))
    with pytest.raises(ValueError, match="pixels"):
        make_env(EnvConfig(backend="pusht", task="pusht", kwargs={"obs_type": "pixels"}))


def test_task_aliases_and_isaaclab_env_spec():
    assert resolve_task("mujoco", "hopper") == "Hopper-v5"
    assert resolve_task("mujoco", "HalfCheetah") == "HalfCheetah-v5"
    assert resolve_task("pusht", "PushT-v0") == resolve_task("pusht", "pusht") == "gym_pusht/PushT-v0"
    assert env_spec(EnvConfig(backend="isaaclab", task="Isaac-Velocity-Flat-Anymal-D")) == (48, 12)
    assert env_spec(EnvConfig(backend="isaaclab", task="Isaac-Cartpole-v0")) == (4, 1)
    assert env_spec(EnvConfig(backend="isaaclab", task="Isaac-Foo-v0", kwargs={"obs_dim": 9, "action_dim": 3})) == (
        9,
        3,
    )
    with pytest.raises(ValueError, match="obs_dim"):
        env_spec(EnvConfig(backend="isaaclab", task="Isaac-Foo-v0"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_tensors_live_on_the_configured_device(isaac):
    env, record = isaac(k=2, device="cuda")
    obs = env.reset(seed=0)
    step = env.step(torch.full((4, 2, 2), 3.0, device="cuda"))
    assert obs.device.type == step.obs.device.type == step.reward.device.type == "cuda"
    assert (record.envs[-1].raw_actions == 1.0).all()
    gym_env = hopper(k=2, device="cuda")
    try:
        assert gym_env.reset(seed=0).device.type == "cuda"
        step = gym_env.step(torch.zeros(B, 2, 3, device="cuda"))
        assert step.obs.device.type == step.final_obs.device.type == step.success.device.type == "cuda"
    finally:
        gym_env.close()


class SucceedsAtStep(gym.Env):
    """Reward 0.5 per step; success (and termination) at step `at`."""

    observation_space = gym.spaces.Box(-1, 1, (1,))
    action_space = gym.spaces.Box(-1, 1, (1,))

    def __init__(self, at: int = 4):
        self.at, self.t = at, 0

    def reset(self, *, seed=None, options=None):
        self.t = 0
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        done = self.t == self.at
        return np.zeros(1, dtype=np.float32), 0.5, done, False, {"is_success": done}


@pytest.mark.parametrize("mode, training_return", [("env", 4 * 0.5), ("absorbing", 4 * 0.5 + (10 - 4) * 1.0),
                                                   ("sparse", 1.0)])
def test_success_reward_makes_finishing_optimal_and_keeps_the_env_return(mode, training_return):
    gym.register(id="GenpoSucceedsAtStep-v0", entry_point=SucceedsAtStep)
    env = ActionChunk(gym.make("GenpoSucceedsAtStep-v0", max_episode_steps=10, disable_env_checker=True), k=2,
                      success_key="is_success", success_reward=mode)
    env.reset(seed=0)
    rewards, info = [], {}
    for _ in range(2):
        _, reward, terminated, truncated, info = env.step(np.zeros((2, 1), dtype=np.float32))
        rewards.append(reward)
    assert terminated and info["success"] == 1.0
    assert sum(rewards) == pytest.approx(training_return)
    assert info["episode_return"] == pytest.approx(4 * 0.5)  # evaluations report the env's own return
    with pytest.raises(ValueError, match="success_reward must be one of"):
        ActionChunk(gym.make("GenpoSucceedsAtStep-v0", max_episode_steps=10, disable_env_checker=True), k=1,
                    success_reward="absorbing")  # no success signal
