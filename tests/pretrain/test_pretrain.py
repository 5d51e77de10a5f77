"""Pretraining on the shipped PushT demonstrations: the loss goes down and the checkpoint reloads exactly."""

import csv

import torch

from genpo.checkpoint import load_policy
from pretrain.data import action_chunks
from pretrain.run import main


def test_pretraining_lowers_the_loss_and_writes_a_reloadable_checkpoint(tmp_path):
    results = main(["task=pusht", "steps=300", "log_every=50", "batch_size=128", "policy.hidden_dim=64",
                    "policy.num_blocks=1", "eval_episodes=0", f"output_dir={tmp_path}", f"save_to={tmp_path / 'export'}"])
    losses = [float(r["train/flow_loss"]) for r in csv.DictReader(open(tmp_path / "metrics.csv"))]
    assert len(losses) == 6 and losses[-1] < 0.7 * losses[0], losses
    assert results["train/wall_time_s"] > 0
    assert (tmp_path / "config.yaml").is_file() and any((tmp_path / "tensorboard").iterdir())
    for directory in (tmp_path / "checkpoint", tmp_path / "export"):
        policy = load_policy(directory, obs_dim=5, action_dim=2)
        assert (directory / "COMMAND").read_text().startswith("python pretrain/run.py task=pusht")
    first, second = load_policy(tmp_path / "checkpoint"), load_policy(tmp_path / "export")
    obs = torch.tensor([[200.0, 300.0, 250.0, 250.0, 1.0]]).repeat(4, 1)
    latent = torch.randn(4, 32)
    torch.testing.assert_close(first.sample(obs, latent).env_actions, second.sample(obs, latent).env_actions, rtol=0, atol=0)
    assert policy.config.horizon == 16 and policy.config.n_action_steps == 8


def test_action_chunks_stay_inside_their_episode():
    actions = torch.arange(10.0).reshape(5, 2).numpy()
    chunks = action_chunks(actions, episode_index=torch.tensor([0, 0, 0, 1, 1]).numpy(), horizon=3)
    assert chunks.shape == (5, 3, 2)
    assert chunks[1].tolist() == [[2, 3], [4, 5], [4, 5]]  # episode 0 ends at frame 2: last action repeated
    assert chunks[3].tolist() == [[6, 7], [8, 9], [8, 9]]
