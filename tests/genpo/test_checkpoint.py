import json

import numpy as np
import pytest
import torch

from genpo.checkpoint import load_policy, save_policy
from genpo.config import ConfigError, load_config
from genpo.policies.flow import FlowPolicy, FlowPolicyConfig, SamplerConfig


def make_policy(sampler=None) -> FlowPolicy:
    torch.manual_seed(0)
    stats = {"observation.state": {"min": -np.ones(5), "max": np.ones(5), "mean": np.full(5, 0.1), "std": np.full(5, 2.0)},
             "action": {"min": np.zeros(2), "max": np.full(2, 512.0), "mean": np.full(2, 256.0), "std": np.full(2, 100.0)}}
    cfg = FlowPolicyConfig(obs_dim=5, action_dim=2, horizon=4, n_action_steps=2, hidden_dim=32, num_blocks=1,
                           sampler=sampler or SamplerConfig(num_steps=4))
    return FlowPolicy(cfg, stats)


@pytest.mark.parametrize(
    "sampler", [SamplerConfig(num_steps=4), SamplerConfig(kind="reversible", num_steps=6, tau=0.03, learn_tau=True)]
)
def test_save_load_gives_identical_actions(tmp_path, sampler):
    policy = make_policy(sampler)
    save_policy(policy, tmp_path / "ckpt")
    config = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert config["type"] == "genpo_flow" and config["output_features"]["action"]["shape"] == [2]
    loaded = load_policy(tmp_path / "ckpt")
    obs = torch.randn(8, 5)
    latent = policy.latent(8)
    torch.testing.assert_close(
        policy.sample(obs, latent).env_actions, loaded.sample(obs, latent).env_actions, rtol=0, atol=0
    )
    assert not list(tmp_path.glob(".ckpt*")), "temporary directories left behind"


def test_action_dim_mismatch_is_refused(tmp_path):
    save_policy(make_policy(), tmp_path / "ckpt")
    with pytest.raises(ValueError, match="action_dim=2.*needs.*action_dim=3"):
        load_policy(tmp_path / "ckpt", obs_dim=5, action_dim=3)


def test_diffusion_grid_on_a_flow_checkpoint_is_refused(tmp_path):

    save_policy(make_policy(), tmp_path / "ckpt")
    with pytest.raises(ValueError, match="LeRobot Diffusion Policies only.*'genpo_flow'"):
        load_policy(tmp_path / "ckpt", diffusion_grid="uniform")


def test_missing_and_corrupt_weights_are_refused(tmp_path):
    save_policy(make_policy(), tmp_path / "ckpt")
    weights = tmp_path / "ckpt" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        load_policy(tmp_path / "ckpt")
    weights.unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors is missing"):
        load_policy(tmp_path / "ckpt")
    with pytest.raises(FileNotFoundError, match="no policy checkpoint"):
        load_policy(tmp_path / "nowhere")


def test_failed_save_leaves_previous_checkpoint_intact(tmp_path):
    policy = make_policy()
    save_policy(policy, tmp_path / "ckpt")
    before = (tmp_path / "ckpt" / "model.safetensors").read_bytes()
    with pytest.raises(TypeError):
        save_policy(policy, tmp_path / "ckpt", extra_files={"broken.txt": 123})  # write() fails half-way
    assert (tmp_path / "ckpt" / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_unknown_config_key_is_one_clear_error():
    from pretrain.run import PretrainConfig

    with pytest.raises(ConfigError, match="unknown config key 'learning_rate': top-level keys: task, "):
        load_config(PretrainConfig, "pretrain", ["learning_rate=3"])
    with pytest.raises(ConfigError, match="unknown task 'nope'; choose one of: .*hopper"):
        load_config(PretrainConfig, "pretrain", ["task=nope"])


def test_config_composes_groups_and_overrides():
    from pretrain.run import PretrainConfig

    cfg = load_config(PretrainConfig, "pretrain", ["task=pusht", "steps=7", "policy.hidden_dim=64"])
    assert (cfg.task.name, cfg.task.env.backend, cfg.steps, cfg.policy.hidden_dim) == ("pusht", "pusht", 7, 64)
