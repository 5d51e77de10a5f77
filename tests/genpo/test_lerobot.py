"""LeRobot in and out: our checkpoints through lerobot's factory and lerobot-eval, LeRobot's Diffusion
Policy (and reversed-time flow networks) into our samplers. Everything is built locally with random
weights; nothing is downloaded (conftest sets HF_HUB_OFFLINE=1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

pytest.importorskip("lerobot")

from lerobot.configs.policies import PreTrainedConfig  # noqa: E402
from lerobot.configs.types import FeatureType, PolicyFeature  # noqa: E402
from lerobot.envs.configs import PushtEnv  # noqa: E402
from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig  # noqa: E402
from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy  # noqa: E402
from lerobot.policies.diffusion.processor_diffusion import make_diffusion_pre_post_processors  # noqa: E402
from lerobot.policies.factory import get_policy_class, make_policy, make_pre_post_processors  # noqa: E402

import lerobot_policy_genpo  # noqa: E402,F401  (registers "genpo_flow" with lerobot)
from genpo.checkpoint import load_policy, save_policy  # noqa: E402
from genpo.conversions import (
    ReversedTimeVelocity,  # noqa: E402
    follow_parameter_dtype,  # noqa: E402
)
from genpo.lerobot.pusht import pusht_keypoints_from_state, pusht_state_from_keypoints  # noqa: E402
from genpo.policies.flow import FlowPolicy, FlowPolicyConfig, SamplerConfig  # noqa: E402
from genpo.samplers import EulerSampler, ReversibleSampler  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PUSHT_STATS = {"observation.state": {"min": np.array([10.0, 20, 50, 60, 0]), "max": np.array([500.0, 490, 450, 460, 6.28]),
                                     "mean": np.array([250.0, 260, 240, 250, 3.1]), "std": np.array([100.0, 110, 90, 95, 1.8])},
               "action": {"min": np.array([12.0, 25]), "max": np.array([505.0, 498]),
                          "mean": np.array([255.0, 262]), "std": np.array([101.0, 99])}}


def pusht_flow_policy(sampler: SamplerConfig | None = None, seed: int = 0) -> FlowPolicy:
    torch.manual_seed(seed)
    cfg = FlowPolicyConfig(obs_dim=5, action_dim=2, horizon=16, n_action_steps=8, hidden_dim=32, num_blocks=1,
                           sampler=sampler or SamplerConfig(num_steps=5))
    return FlowPolicy(cfg, PUSHT_STATS)


def lerobot_load(directory: Path):
    """What lerobot-eval does: config from the directory, make_policy, processors from the directory."""
    cfg = PreTrainedConfig.from_pretrained(directory)
    cfg.pretrained_path = directory
    policy = make_policy(cfg, env_cfg=PushtEnv(obs_type="environment_state_agent_pos"))
    pre, post = make_pre_post_processors(cfg, pretrained_path=str(directory))
    return policy, pre, post


# ---- 1. our checkpoints in LeRobot ----------------------------------------------------------------
@pytest.mark.parametrize("sampler", [SamplerConfig(num_steps=5),
                                     SamplerConfig(kind="reversible", num_steps=6, tau=0.05, learn_tau=True)])
def test_our_checkpoint_loads_through_lerobot_factory_with_same_actions(tmp_path, sampler):
    policy = pusht_flow_policy(sampler)
    save_policy(policy, tmp_path / "ckpt")
    files = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert {"config.json", "model.safetensors", "policy_preprocessor.json", "policy_postprocessor.json"} <= set(files)
    assert get_policy_class("genpo_flow").__name__ == "GenpoFlowPolicy"
    lr_policy, pre, post = lerobot_load(tmp_path / "ckpt")
    ours = load_policy(tmp_path / "ckpt")

    obs = torch.rand(4, 5) * 400 + 50
    latent = ours.latent(4, generator=torch.Generator().manual_seed(3))
    expected = ours.sample(obs, latent).env_actions.detach()  # (4, 8, 2) env units
    chunk = post(lr_policy.predict_action_chunk(pre({"observation.state": obs}), noise=latent))
    torch.testing.assert_close(chunk, expected, rtol=0, atol=1e-3)

    # select_action: the action queue hands out the chunk one step at a time, then predicts anew.
    lr_policy.reset()
    batch = pre({"observation.state": obs})
    steps = [post(lr_policy.select_action(batch, noise=latent)) for _ in range(8)]
    torch.testing.assert_close(torch.stack(steps, 1), expected, rtol=0, atol=1e-3)
    assert len(lr_policy._action_queue) == 0


def test_lerobot_written_checkpoint_reads_back_in_genpo(tmp_path):
    """What lerobot-train writes (policy.save_pretrained + processors) loads with genpo's own loader."""
    from lerobot_policy_genpo import GenpoFlowConfig, GenpoFlowPolicy, make_genpo_flow_pre_post_processors

    cfg = GenpoFlowConfig(device="cpu", horizon=16, n_action_steps=8, hidden_dim=32, num_blocks=1,
                          input_features={"observation.state": PolicyFeature(FeatureType.STATE, (5,)),
                                          "observation.environment_state": PolicyFeature(FeatureType.ENV, (18,))},
                          output_features={"action": PolicyFeature(FeatureType.ACTION, (2,))})
    stats = {k: {n: torch.tensor(v, dtype=torch.float32) for n, v in s.items()} for k, s in PUSHT_STATS.items()}
    torch.manual_seed(0)
    policy = GenpoFlowPolicy(cfg, dataset_stats=stats)
    pre, post = make_genpo_flow_pre_post_processors(cfg, dataset_stats=stats)
    obs, actions = torch.rand(8, 5) * 400 + 50, torch.rand(8, 16, 2) * 400 + 50
    batch = pre({"observation.state": obs, "action": actions})
    loss, info = policy.forward(batch)
    loss.backward()
    assert torch.isfinite(loss) and info["flow_loss"] > 0
    assert all(p.grad is not None for p in policy.get_optim_params())
    policy.save_pretrained(tmp_path / "ckpt")
    pre.save_pretrained(tmp_path / "ckpt")
    post.save_pretrained(tmp_path / "ckpt")

    ours = load_policy(tmp_path / "ckpt", obs_dim=5, action_dim=2)
    latent = ours.latent(8)
    expected = ours.sample(obs, latent).env_actions.detach()
    got = post(policy.predict_action_chunk(pre({"observation.state": obs}), noise=latent))
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-3)
    # LeRobot 0.6 under FSDP passes a pre-gathered state dict (this module's keys); it is what gets written
    gathered = {k: v.detach().clone() for k, v in policy.state_dict().items()}
    gathered["flow.velocity_net.output.2.weight"] = gathered["flow.velocity_net.output.2.weight"] + 1.0
    policy.save_pretrained(tmp_path / "fsdp", state_dict=gathered)
    written = load_file(tmp_path / "fsdp" / "model.safetensors")
    assert set(written) == set(policy.flow.state_dict())
    torch.testing.assert_close(written["velocity_net.output.2.weight"], gathered["flow.velocity_net.output.2.weight"])


def test_plugin_config_has_every_flow_policy_field():
    """draccus parses config.json strictly: a FlowPolicyConfig field missing here breaks lerobot loading."""
    import dataclasses

    from lerobot_policy_genpo import GenpoFlowConfig

    ours = {f.name: f.type for f in dataclasses.fields(FlowPolicyConfig)}
    theirs = {f.name: f.type for f in dataclasses.fields(GenpoFlowConfig)}
    assert set(ours) <= set(theirs), f"add {sorted(set(ours) - set(theirs))} to lerobot_policy_genpo/configuration_genpo.py"


def test_pusht_keypoints_give_back_the_gym_pusht_state():
    gym = pytest.importorskip("gymnasium")
    pytest.importorskip("gym_pusht")
    kp_env = gym.make("gym_pusht/PushT-v0", obs_type="environment_state_agent_pos")
    st_env = gym.make("gym_pusht/PushT-v0", obs_type="state")
    kp, _ = kp_env.reset(seed=5)
    st, _ = st_env.reset(seed=5)
    rng = np.random.default_rng(0)
    for _ in range(30):
        state = pusht_state_from_keypoints(torch.tensor(kp["agent_pos"])[None], torch.tensor(kp["environment_state"])[None])[0]
        diff = (state - torch.tensor(st)).abs()
        diff[4] = torch.minimum(diff[4], 2 * np.pi - diff[4])
        assert diff.max() < 1e-9
        assert np.abs(pusht_keypoints_from_state(torch.tensor(st)[None])[0].numpy() - kp["environment_state"]).max() < 1e-9
        action = rng.uniform(0, 512, 2)
        kp, *_ = kp_env.step(action)
        st, *_ = st_env.step(action)


def lerobot_script(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """A LeRobot console script as a user types it: no --discover_packages_path (the plugin is found as
    the installed lerobot_policy_genpo distribution)."""
    script = Path(sys.executable).parent / name
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SDL_VIDEODRIVER": "dummy"}
    run = subprocess.run([str(script), *args], capture_output=True, text=True, env=env, timeout=300, cwd=cwd)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.mark.slow
def test_lerobot_eval_runs_our_pusht_checkpoint(tmp_path):
    save_policy(pusht_flow_policy(), tmp_path / "ckpt")
    # Sync envs: lerobot 0.6's async (forkserver) pusht workers do not import gym_pusht and fail.
    lerobot_script("lerobot-eval", f"--policy.path={tmp_path / 'ckpt'}", "--policy.device=cpu",
                   "--env.type=pusht", "--env.obs_type=environment_state_agent_pos", "--env.episode_length=20",
                   "--eval.n_episodes=2", "--eval.batch_size=2", "--eval.use_async_envs=false",
                   f"--output_dir={tmp_path / 'eval'}", cwd=tmp_path)
    info = json.loads((tmp_path / "eval" / "eval_info.json").read_text())
    assert info["overall"]["n_episodes"] == 2


@pytest.mark.slow
def test_lerobot_train_genpo_flow_on_the_shipped_dataset(tmp_path):
    """lerobot-train --policy.type=genpo_flow on datasets/pusht writes a checkpoint genpo loads and acts with."""
    lerobot_script("lerobot-train", "--policy.type=genpo_flow", "--dataset.repo_id=local/pusht",
                   f"--dataset.root={REPO / 'datasets' / 'pusht'}", "--policy.horizon=16", "--policy.n_action_steps=8",
                   "--policy.hidden_dim=32", "--policy.num_blocks=1", "--policy.device=cpu", "--policy.push_to_hub=false",
                   "--steps=4", "--batch_size=8", "--num_workers=0", "--save_freq=4", "--wandb.enable=false",
                   f"--output_dir={tmp_path / 'train'}", cwd=tmp_path)
    policy = load_policy(tmp_path / "train" / "checkpoints" / "last" / "pretrained_model", obs_dim=5, action_dim=2)
    obs = torch.tensor([[250.0, 260, 240, 250, 3.1]])
    action = policy.sample(obs, zero=True).env_actions
    assert action.shape == (1, 8, 2) and torch.isfinite(action).all()


# ---- 2. LeRobot's Diffusion Policy in genpo -------------------------------------------------------
def make_diffusion_dir(directory: Path, *, n_obs_steps: int = 2, prediction_type: str = "epsilon",
                       scheduler: str = "DDIM", seed: int = 0, env_dim: int = 16) -> DiffusionPolicy:
    """A tiny random LeRobot Diffusion Policy directory: agent (2) + environment state (env_dim: 16 = LeRobot's
    PushT corners, 3 = block pose as in datasets/pusht_split) -> 2-d actions."""
    torch.manual_seed(seed)
    cfg = DiffusionConfig(device="cpu", n_obs_steps=n_obs_steps, horizon=16, n_action_steps=8, down_dims=(16, 32),
                          diffusion_step_embed_dim=16, n_groups=4, kernel_size=3, prediction_type=prediction_type,
                          noise_scheduler_type=scheduler, num_inference_steps=10 if scheduler == "DDIM" else None,
                          input_features={"observation.state": PolicyFeature(FeatureType.STATE, (2,)),
                                          "observation.environment_state": PolicyFeature(FeatureType.ENV, (env_dim,))},
                          output_features={"action": PolicyFeature(FeatureType.ACTION, (2,))})
    cfg.normalization_mapping["ENV"] = cfg.normalization_mapping["STATE"]  # LeRobot's default leaves ENV raw
    policy = DiffusionPolicy(cfg)
    env_low, env_high = ((torch.tensor([30.0, 30.0, 0.0]), torch.tensor([480.0, 480.0, 2 * np.pi])) if env_dim == 3
                         else (torch.full((env_dim,), 30.0), torch.full((env_dim,), 480.0)))
    stats = {"observation.state": {"min": torch.tensor([10.0, 20.0]), "max": torch.tensor([500.0, 490.0])},
             "observation.environment_state": {"min": env_low, "max": env_high},
             "action": {"min": torch.tensor([12.0, 25.0]), "max": torch.tensor([505.0, 498.0])}}
    pre, post = make_diffusion_pre_post_processors(cfg, stats)
    for item in (policy, pre, post):
        item.save_pretrained(directory)
    return policy


def raw_observations(batch: int, n_obs_steps: int, generator: torch.Generator):
    state = torch.rand(batch, n_obs_steps, 2, generator=generator, dtype=torch.float64) * 480 + 20
    env_state = torch.rand(batch, n_obs_steps, 16, generator=generator, dtype=torch.float64) * 440 + 40
    return state, env_state


@pytest.mark.parametrize("n_obs_steps,prediction_type,grid", [(2, "epsilon", "ddim"), (1, "sample", "uniform"),
                                                                (1, "epsilon", "ddim_start")])
def test_converted_euler_reproduces_lerobot_ddim_float64(tmp_path, n_obs_steps, prediction_type, grid):
    lr_policy = make_diffusion_dir(tmp_path / "dp", n_obs_steps=n_obs_steps, prediction_type=prediction_type)
    policy = load_policy(tmp_path / "dp", diffusion_grid=grid)
    description = policy.description
    assert "Diffusion" in description and policy.config.sampler.num_steps == 10
    assert policy.config.obs_dim == 18 * n_obs_steps and policy.config.flat_action_dim == 32
    t = policy.sampler.t
    assert len(t) == 11 and t[-1] == 1 and (t[0] == 0) == (grid != "ddim_start") and bool((t[1:] > t[:-1]).all())

    follow_parameter_dtype(lr_policy.diffusion.unet)
    lr_policy.double()
    policy.double()
    _, pre, _ = lerobot_pipeline(tmp_path / "dp")
    state, env_state = raw_observations(5, n_obs_steps, torch.Generator().manual_seed(1))
    noise = torch.randn(5, 16, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    with torch.no_grad():
        batch = pre({"observation.state": state, "observation.environment_state": env_state})
        cond = lr_policy.diffusion._prepare_global_conditioning(batch)
        expected = lr_policy.diffusion.conditional_sample(5, global_cond=cond, noise=noise.clone())
        obs = torch.cat([state, env_state], -1).flatten(1)  # our flat layout: [state, env] per step, oldest first
        out = policy.sample(obs, noise.flatten(1))
    error = (out.sample.action.reshape(5, 16, 2) - expected).abs().max().item()
    assert error < 1e-10, error  # measured ~1e-14
    assert expected.abs().max() <= 1.0 + 1e-12  # clip_sample was active on the way


def lerobot_pipeline(directory: Path):
    cfg = PreTrainedConfig.from_pretrained(directory)
    pre, post = make_pre_post_processors(cfg, pretrained_path=str(directory))
    return cfg, pre, post


def test_converted_policy_acts_like_lerobot_diffusion(tmp_path):
    """Raw observations in, env actions out (float32): LeRobot's pipeline (processors + the action chunk
    its select_action queues) vs our converted policy on the stacked observation history."""
    lr_policy = make_diffusion_dir(tmp_path / "dp", n_obs_steps=2)
    policy = load_policy(tmp_path / "dp", obs_dim=36, action_dim=2)
    _, pre, post = lerobot_pipeline(tmp_path / "dp")
    state, env_state = (x.float() for x in raw_observations(3, 2, torch.Generator().manual_seed(4)))
    noise = torch.randn(3, 16, 2, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        batch = pre({"observation.state": state, "observation.environment_state": env_state})
        expected = post(lr_policy.diffusion.generate_actions(batch, noise=noise))  # actions[1:9] for n_obs_steps=2
        ours = policy.sample(torch.cat([state, env_state], -1).flatten(1), noise.flatten(1)).env_actions
    assert ours.shape == expected.shape == (3, 8, 2)
    torch.testing.assert_close(ours, expected, rtol=0, atol=2e-3)


def test_reversible_sampler_on_converted_diffusion_inverts_exactly(tmp_path):
    make_diffusion_dir(tmp_path / "dp", n_obs_steps=1, scheduler="DDPM")
    policy = load_policy(tmp_path / "dp", num_steps=8)
    description = policy.description
    assert "DDPM-trained" in description and policy.sampler.num_steps == 8
    policy.set_sampler(SamplerConfig(kind="reversible", num_steps=8, sigma=0.9, tau=0.05))
    assert isinstance(policy.sampler, ReversibleSampler) and policy.sampler.t[0] == 0 and policy.sampler.t[-1] == 1
    policy.double()
    state, env_state = raw_observations(6, 1, torch.Generator().manual_seed(6))
    obs = torch.cat([state, env_state], -1).flatten(1)
    latent = policy.latent(6, generator=torch.Generator().manual_seed(7)).double()
    with torch.no_grad():
        out = policy.sample(obs, latent)
        velocity, params = policy.velocity(obs), policy.sampler_params()
        back = policy.sampler.inverse(velocity, out.sample.stored, **params)
        again = policy.sampler.forward(velocity, back, **params)
        log_prob = policy.log_prob(obs, out.sample.stored)
    assert (back - latent).abs().max() < 1e-8  # measured 7e-11 here; up to 4e-9 on other random U-Nets
    assert (again - out.sample.stored).abs().max() < 1e-10
    assert (log_prob - out.sample.log_prob).abs().max() < 1e-8


def test_converted_diffusion_velocity_refuses_untrained_times(tmp_path):
    make_diffusion_dir(tmp_path / "dp", n_obs_steps=1)
    policy = load_policy(tmp_path / "dp")
    velocity = policy.velocity(torch.zeros(2, 18))
    with pytest.raises(ValueError, match="only at its trained timesteps"):
        velocity(torch.zeros(2, 32), torch.full((2,), 0.5))
    with pytest.raises(ValueError, match="num_steps <= num_train_timesteps"):
        policy.set_sampler(SamplerConfig(num_steps=101))


def test_finetuned_converted_policy_saves_as_lerobot_diffusion(tmp_path):
    """GenPO++ on a converted policy: log-probs, gradients into the U-Net, then save, reload both ways."""
    from finetune.algos.genpopp import GenPOpp, GenPOppConfig

    make_diffusion_dir(tmp_path / "dp", n_obs_steps=1)
    policy = load_policy(tmp_path / "dp", obs_dim=18, action_dim=2, num_steps=6)
    state, env_state = (x.float() for x in raw_observations(16, 1, torch.Generator().manual_seed(8)))
    obs = torch.cat([state, env_state], -1).flatten(1)
    algo = GenPOpp(policy, GenPOppConfig(tau=0.05, coefficient="dt", learn_tau=True))
    act = algo.act(obs)
    log_prob = algo.log_prob(obs, act.stored)
    assert (log_prob - act.log_prob).abs().max() < 1e-2  # float32 round trip
    log_prob.sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in policy.velocity_net.unet.parameters())
    assert policy.log_tau.grad is not None
    with torch.no_grad():
        policy.log_tau.add_(0.1)

    save_policy(algo.export_policy(), tmp_path / "ft")
    raw = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert raw["type"] == "diffusion" and raw["noise_scheduler_type"] == "DDIM" and raw["num_inference_steps"] == 6
    reloaded = load_policy(tmp_path / "ft")
    assert reloaded.config.sampler == policy.config.sampler
    torch.testing.assert_close(reloaded.log_tau, policy.log_tau.detach())
    latent = policy.latent(16, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        torch.testing.assert_close(reloaded.sample(obs, latent).env_actions, policy.sample(obs, latent).env_actions)

    # LeRobot reads the fine-tuned policy too; its DDIM sampler is our deterministic Euler sampler.
    cfg, pre, post = lerobot_pipeline(tmp_path / "ft")
    cfg.pretrained_path = tmp_path / "ft"
    lr_policy = make_policy(cfg, env_cfg=PushtEnv(obs_type="environment_state_agent_pos"))
    reloaded.set_sampler(SamplerConfig(num_steps=6))
    noise = torch.randn(16, 16, 2, generator=torch.Generator().manual_seed(10))
    with torch.no_grad():
        batch = pre({"observation.state": state[:, 0], "observation.environment_state": env_state[:, 0]})
        inputs = {k: batch[k][:, None] for k in ("observation.state", "observation.environment_state")}
        theirs = post(lr_policy.diffusion.generate_actions(inputs, noise=noise))
        ours = reloaded.sample(obs, noise.flatten(1)).env_actions
    torch.testing.assert_close(ours, theirs, rtol=0, atol=2e-3)


def test_pusht_split_diffusion_policy_runs_on_lerobot_pusht_corners(tmp_path):
    """A Diffusion Policy trained on datasets/pusht_split (agent 2 + block pose 3): LeRobot's pusht env gives
    agent + 16 corners; PushtBlockPoseStep (inserted by add_block_pose_step, and on export) turns them into
    the block pose, so LeRobot's pipeline acts like our converted policy on gym-pusht's 5-d state."""
    from genpo.lerobot.pusht import BLOCK_POSE_STEP, add_block_pose_step, is_pusht_split_layout

    make_diffusion_dir(tmp_path / "dp", n_obs_steps=1, env_dim=3)
    assert is_pusht_split_layout(json.loads((tmp_path / "dp" / "config.json").read_text()))
    policy = load_policy(tmp_path / "dp", obs_dim=5, action_dim=2)  # before the step: exported without it
    save_policy(policy, tmp_path / "ft")
    assert add_block_pose_step(tmp_path / "dp") and not add_block_pose_step(tmp_path / "dp")  # idempotent
    for directory in (tmp_path / "dp", tmp_path / "ft"):
        steps = json.loads((directory / "policy_preprocessor.json").read_text())["steps"]
        names = [s.get("registry_name", s.get("class")) for s in steps]
        assert names.index(BLOCK_POSE_STEP) == names.index("normalizer_processor") - 1, names

    # As lerobot-eval loads it (no plugin import needed: the step is found by its class path).
    lr_policy, pre, post = lerobot_load(tmp_path / "ft")
    generator = torch.Generator().manual_seed(11)
    state = torch.cat(
        [torch.rand(6, 4, generator=generator) * 400 + 60, torch.rand(6, 1, generator=generator) * 6 + 0.1], -1
    )
    noise = torch.randn(6, 16, 2, generator=generator)
    with torch.no_grad():
        batch = pre(
            {"observation.state": state[:, :2], "observation.environment_state": pusht_keypoints_from_state(state)}
        )
        assert batch["observation.environment_state"].shape == (6, 3)
        theirs = post(
            lr_policy.diffusion.generate_actions(
                {k: batch[k][:, None] for k in ("observation.state", "observation.environment_state")}, noise=noise
            )
        )
        ours = policy.sample(state, noise.flatten(1)).env_actions
    torch.testing.assert_close(ours, theirs, rtol=0, atol=2e-3)
    with torch.no_grad():  # a 3-d block pose (dataset layout) passes through
        same = pre({"observation.state": state[:, :2], "observation.environment_state": state[:, 2:]})
    torch.testing.assert_close(
        same["observation.environment_state"], batch["observation.environment_state"], rtol=0, atol=1e-4
    )
    with pytest.raises(ValueError, match="environment_state_agent_pos"):
        pre({"observation.state": state[:, :2], "observation.environment_state": torch.zeros(6, 7)})


# ---- 3. reversed-time flow networks (pi0 / SmolVLA convention) -------------------------------------
class TinyReversedTimeNet(torch.nn.Module):
    """A stand-in for pi0 / SmolVLA's action expert: x_s = s noise + (1 - s) action, output noise - action.
    (The real ones need multi-GB vision-language backbones; the convention is what is under test.)"""

    def __init__(self, dim: int = 6, obs_dim: int = 3):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(dim + obs_dim + 1, 32), torch.nn.Tanh(), torch.nn.Linear(32, dim)
        )

    def forward(self, x, obs, s):
        return self.net(torch.cat([x, obs, s[:, None]], -1))


def test_reversed_time_adapter_matches_its_own_euler_loop_and_passes_gradients():
    torch.manual_seed(0)
    model = TinyReversedTimeNet().double()
    obs, noise = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 6, dtype=torch.float64)
    steps = 10
    x, s = noise.clone(), 1.0  # pi0: x_{s + ds} = x_s + ds * model(x_s, s), ds = -1/N, from s = 1 to 0
    for _ in range(steps):
        x = x + (-1.0 / steps) * model(x, obs, torch.full((4,), s, dtype=torch.float64))
        s -= 1.0 / steps
    adapter = ReversedTimeVelocity(model)
    ours = EulerSampler(steps).sample(lambda y, t: adapter(y, obs, t), noise).action
    torch.testing.assert_close(ours, x, rtol=0, atol=1e-12)

    # Gradients flow through our sampler loop into the wrapped network (exact log-prob of the pair).
    sampler = ReversibleSampler(steps, sigma=0.9)
    log_tau = torch.full((6,), float(np.log(0.05)), dtype=torch.float64)
    out = sampler.sample(lambda y, t: adapter(y, obs, t), torch.randn(4, 2, 6, dtype=torch.float64), log_tau)
    log_prob = sampler.log_prob(lambda y, t: adapter(y, obs, t), out.stored.detach(), log_tau)
    torch.testing.assert_close(log_prob, out.log_prob, rtol=0, atol=1e-9)
    log_prob.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())

    # And as the velocity network of a FlowPolicy (normalisers and post-processing around it).
    config = FlowPolicyConfig(
        obs_dim=3,
        action_dim=2,
        horizon=3,
        n_action_steps=2,
        obs_norm="identity",
        action_norm="identity",
        sampler=SamplerConfig(num_steps=steps),
    )
    policy = FlowPolicy(config, velocity_net=ReversedTimeVelocity(model)).double()
    torch.testing.assert_close(policy.sample(obs, noise).env_actions, x.reshape(4, 3, 2)[:, :2], rtol=0, atol=1e-12)


# ---- 4. what cannot be used: clear errors -------------------------------------------------------------
def write_config(directory: Path, config: dict) -> Path:
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def test_image_observation_checkpoints_are_refused_clearly(tmp_path):
    features = {
        "observation.image": {"type": "VISUAL", "shape": [3, 96, 96]},
        "observation.state": {"type": "STATE", "shape": [2]},
    }
    for kind in ("diffusion", "smolvla"):
        path = write_config(
            tmp_path / kind,
            {"type": kind, "input_features": features, "output_features": {"action": {"type": "ACTION", "shape": [2]}}},
        )
        with pytest.raises(
            ValueError,
            match=r"needs camera images \(observation.image\); genpo fine-tunes state-observation policies only",
        ):
            load_policy(path)
    with pytest.raises(ValueError, match="type 'tdmpc'"):
        load_policy(write_config(tmp_path / "other", {"type": "tdmpc"}))


def test_dimension_and_history_mismatches_are_refused_clearly(tmp_path):
    make_diffusion_dir(tmp_path / "dp", n_obs_steps=2)
    with pytest.raises(ValueError, match="n_obs_steps=2 consecutive observations.*one observation per step"):
        load_policy(tmp_path / "dp", obs_dim=18)
    with pytest.raises(ValueError, match="observes 18 numbers per step.*obs_dim=5"):
        load_policy(tmp_path / "dp", obs_dim=5)
    with pytest.raises(ValueError, match="action_dim=2, but the env needs action_dim=7"):
        load_policy(tmp_path / "dp", action_dim=7)
    (tmp_path / "dp" / "policy_preprocessor.json").unlink()
    with pytest.raises(FileNotFoundError, match="processor files"):
        load_policy(tmp_path / "dp")


def test_finetune_run_on_a_lerobot_diffusion_policy_writes_one_back(tmp_path, capsys):
    """finetune/run.py task=pusht policy.path=<LeRobot Diffusion Policy>: it says what it loaded, runs GenPO++
    on the converted U-Net (ratio == 1 at theta_old) and its checkpoint is a LeRobot diffusion directory
    again, with the corners -> block pose step, that LeRobot loads with the fine-tuned U-Net weights."""
    from safetensors.torch import load_file

    from finetune.config import FinetuneConfig
    from finetune.runner import FinetuneRun
    from genpo.config import load_config
    from genpo.lerobot.pusht import BLOCK_POSE_STEP

    make_diffusion_dir(tmp_path / "dp", n_obs_steps=1, env_dim=3)
    cfg = load_config(
        FinetuneConfig,
        "finetune",
        [
            "task=pusht",
            f"policy.path={tmp_path / 'dp'}",
            f"output_dir={tmp_path / 'run'}",
            "task.env.num_envs=2",
            "ppo.steps_per_iter=4",
            "ppo.minibatch_size=8",
            "ppo.epochs=1",
            "ppo.critic_warmup_iters=0",
            "ppo.critic_hidden=[32,32]",
            "ppo.iterations=1",
            "eval_episodes=0",
            "save_video=false",
            # a random U-Net converted on its 10-step DDIM grid is a stiff flow whose float32 inversion misses the
            # sampling-time log-prob by ~5e6 (the run's ratio check stops it); on 4 steps the gap is ~2e-3
            "genpopp.num_steps=4",
        ],
    )
    run = FinetuneRun(cfg, [])
    assert "LeRobot Diffusion Policy" in capsys.readouterr().out
    run.train()
    assert run.logger.rows[-1]["ppo/ratio_check"] <= 1e-5

    last = tmp_path / "run" / "checkpoints" / "last"
    assert json.loads((last / "config.json").read_text())["type"] == "diffusion"
    steps = json.loads((last / "policy_preprocessor.json").read_text())["steps"]
    assert BLOCK_POSE_STEP in [s.get("class") for s in steps]
    before, after = load_file(tmp_path / "dp" / "model.safetensors"), load_file(last / "model.safetensors")
    assert before.keys() == after.keys() and any(not torch.equal(before[k], after[k]) for k in before)
    lr_policy, _, _ = lerobot_load(last)
    for key, value in lr_policy.state_dict().items():
        torch.testing.assert_close(value, after[key], rtol=0, atol=0)


@pytest.mark.parametrize(
    "name,sampler_kind", [("pusht_lerobot_diffusion", "euler"), ("pusht_lerobot_diffusion_genpopp", "reversible")]
)
def test_shipped_lerobot_diffusion_checkpoints_load_in_genpo_and_lerobot(name, sampler_kind):
    """The shipped LeRobot Diffusion Policy (lerobot-train) and its GenPO++ fine-tuned export: genpo converts
    both for PushT's 5-d state (the export restores its reversible sampler), LeRobot loads both."""
    from genpo.config import REPO_ROOT

    path = REPO_ROOT / "checkpoints" / name
    assert (path / "COMMAND").is_file(), f"{path} should record the command that made it"
    policy = load_policy(path, obs_dim=5, action_dim=2)
    description = policy.description
    assert description.startswith("LeRobot Diffusion Policy") and policy.config.sampler.kind == sampler_kind
    _, pre, _ = lerobot_load(path)
    corners = pusht_keypoints_from_state(torch.tensor([[256.0, 256.0, 200.0, 300.0, 1.0]]))
    batch = pre({"observation.state": torch.tensor([[256.0, 256.0]]), "observation.environment_state": corners})
    assert batch["observation.environment_state"].shape == (1, 3)
