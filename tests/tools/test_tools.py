"""tools/record_dataset.py: episodes recorded from a policy, read back as a LeRobotDataset."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from conftest import HOPPER_STATS as STATS

from genpo.checkpoint import load_policy, save_policy
from genpo.config import REPO_ROOT
from genpo.data import read_dataset

sys.path.insert(0, str(REPO_ROOT / "tools"))
import record_dataset  # noqa: E402

from genpo.policies.gaussian import GaussianPolicy, GaussianPolicyConfig  # noqa: E402


def test_recorded_episodes_are_whole_balanced_and_the_policys_actions(tmp_path):
    torch.manual_seed(0)
    policy = GaussianPolicy(GaussianPolicyConfig(obs_dim=11, action_dim=3, horizon=1, n_action_steps=1, hidden_dim=32,
                                                 num_blocks=1, init_std=0.5), STATS)
    save_policy(policy, tmp_path / "gaussian")
    out = tmp_path / "data"
    assert record_dataset.main(["--task", "hopper", "--policy", str(tmp_path / "gaussian"), "--episodes", "4",
                                "--sampling", "zero", "--out", str(out), "--num_envs", "2", "--fps", "125"]) == 0
    data = read_dataset(out)
    episodes = data.episodes()
    assert len(episodes) == 4  # 2 per env: the first two episodes of each env, not the first four to end
    done = data.columns["next.done"].reshape(-1)
    for start, end in episodes:
        assert done[end - 1] and not done[start : end - 1].any()
    # zero sampling of a horizon-1 Gaussian policy: every recorded action is its mean at the recorded obs
    reloaded = load_policy(tmp_path / "gaussian", obs_dim=11, action_dim=3)
    obs = torch.as_tensor(data.columns["observation.state"], dtype=torch.float32)
    mean = reloaded.sample(obs, zero=True).env_actions[:, 0].detach().numpy()
    np.testing.assert_allclose(data.columns["action"], np.clip(mean, -1, 1), atol=1e-5)  # as executed
    card = (out / "README.md").read_text()
    returns = [data.columns["next.reward"][s:e].astype(np.float64).sum() for s, e in episodes]
    assert f"return {np.mean(returns):.1f} ± {np.std(returns):.1f}" in card and "--sampling zero" in card


@pytest.mark.parametrize("task, episodes", [("hopper", 608), ("walker2d", 544)])
def test_medium_dataset_reproduces_from_its_card(tmp_path, task, episodes):
    """The builder reproduces the shipped D4RL-style medium set on a small budget: recording one episode
    per env with the card's seed and env count gives exactly the first episode of every env in the shipped
    dataset (episodes are stored env by env, the same number from each), frame for frame."""
    name = f"{task}_medium"
    shipped = read_dataset(REPO_ROOT / "datasets" / name)
    card = (REPO_ROOT / "datasets" / name / "README.md").read_text()
    assert "--sampling stochastic --seed 0" in card and "--num_envs 16" in card and f"--episodes {episodes}" in card
    out = tmp_path / "data"
    assert record_dataset.main(["--task", task, "--policy", str(REPO_ROOT / "checkpoints" / f"{name}_source"),
                                "--episodes", "16", "--num_envs", "16", "--sampling", "stochastic", "--seed", "0",
                                "--fps", "125", "--out", str(out)]) == 0
    small, per_env = read_dataset(out), episodes // 16
    ours, theirs = small.episodes(), shipped.episodes()
    assert len(ours) == 16 and len(theirs) == episodes
    for j, (s, e) in enumerate(ours):
        ts, te = theirs[j * per_env]
        assert e - s == te - ts, f"env {j}: episode length {e - s} != shipped {te - ts}"
        for key in ("observation.state", "action", "next.reward"):
            np.testing.assert_allclose(small.columns[key][s:e], shipped.columns[key][ts:te], atol=1e-5, err_msg=f"env {j} {key}")
