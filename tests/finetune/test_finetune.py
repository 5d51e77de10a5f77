"""The fine-tuning harness end to end on Hopper-v5 (few envs, tiny budgets)."""

import copy
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import finetune.runner as runner
from finetune.config import FinetuneConfig
from finetune.ppo import RatioCheckError
from finetune.runner import FinetuneRun
from genpo.checkpoint import load_policy, save_policy
from genpo.config import REPO_ROOT, ConfigError, load_config
from genpo.policies.flow import FlowPolicy, FlowPolicyConfig, SamplerConfig
from genpo.policies.gaussian import GaussianPolicy

TINY = ["task.env.num_envs=2", "task.env.max_episode_steps=40", "ppo.steps_per_iter=8", "ppo.minibatch_size=8",
        "ppo.epochs=2", "ppo.critic_warmup_iters=0", "ppo.critic_hidden=[32,32]", "eval_episodes=2", "eval_every=1",
        "save_video=false"]


@pytest.fixture(scope="module")
def hopper_checkpoint(tmp_path_factory) -> Path:
    """A small random flow policy with Hopper-v5's dims and dataset-like normalisation."""
    torch.manual_seed(0)
    stats = {"observation.state": {"min": -np.ones(11), "max": np.ones(11), "mean": np.zeros(11), "std": np.ones(11)},
             "action": {"min": -np.ones(3), "max": np.ones(3), "mean": np.zeros(3), "std": np.ones(3)}}
    cfg = FlowPolicyConfig(obs_dim=11, action_dim=3, horizon=4, n_action_steps=4, hidden_dim=32, num_blocks=1,
                           sampler=SamplerConfig(num_steps=4))
    return save_policy(FlowPolicy(cfg, stats), tmp_path_factory.mktemp("ckpt") / "hopper_tiny")


def config(*overrides: str) -> FinetuneConfig:
    return load_config(FinetuneConfig, "finetune", [*TINY, *overrides])


def test_two_genpopp_iterations_on_hopper(tmp_path, hopper_checkpoint):
    cfg = config(f"policy.path={hopper_checkpoint}", f"output_dir={tmp_path}", "ppo.iterations=2")
    run = FinetuneRun(cfg, [])
    summary = run.train()
    rows = run.logger.rows
    assert [r["step"] for r in rows] == [0, 1, 2]
    assert rows[1]["ppo/ratio_check"] <= 1e-5 and rows[2]["ppo/ratio_check"] <= 1e-5
    for key in ("ppo/policy_loss", "ppo/value_loss", "ppo/kl", "genpopp/action_drift", "eval_zero/return_mean",
                "eval_authors/return_mean"):
        assert np.isfinite(rows[-1][key]), key
    assert summary["env_steps"] == 2 * 8 * 2 * 4
    for name in ("last", "best"):
        policy = load_policy(tmp_path / "checkpoints" / name, obs_dim=11, action_dim=3)
        assert policy.config.sampler.kind == "reversible" and "log_tau" in policy.sampler_params()
    assert (tmp_path / "report.md").is_file() and (tmp_path / "curves.png").stat().st_size > 0
    fine_tuned = load_policy(tmp_path / "checkpoints" / "last")
    assert not torch.equal(fine_tuned.velocity_net.input.weight, load_policy(hopper_checkpoint).velocity_net.input.weight)


def test_resume_continues_iteration_optimizer_and_rng(tmp_path, hopper_checkpoint):
    args = [f"policy.path={hopper_checkpoint}", f"output_dir={tmp_path}", "eval_episodes=0"]
    first = FinetuneRun(config(*args, "ppo.iterations=2"), [])
    first_summary = first.train()
    saved = first.ppo.state_dict()
    resumed = FinetuneRun(config(*args, "ppo.iterations=3", "resume=true"), [])
    assert resumed.ppo.iteration == 2 and resumed.ppo.env_steps == first.ppo.env_steps
    assert torch.equal(resumed.ppo.generator.get_state(), saved["generator"])
    assert torch.equal(resumed.ppo.shuffle.get_state(), saved["shuffle"])
    for a, b in zip(first.ppo.actor_opt.state_dict()["state"].values(), resumed.ppo.actor_opt.state_dict()["state"].values()):
        assert torch.equal(a["exp_avg"], b["exp_avg"]) and a["step"] == b["step"]
    for (name, p), q in zip(first.ppo.unwrapped.named_parameters(), resumed.ppo.unwrapped.parameters()):
        assert torch.equal(p, q), name
    summary = resumed.train()
    assert resumed.ppo.iteration == 3
    assert [r["step"] for r in resumed.logger.rows] == [0, 1, 2, 3]
    assert summary["train_time_s"] > first_summary["train_time_s"] > 0  # training time adds up over sittings
    # resuming a finished run changes nothing: its report (and wall time) is kept
    report = (tmp_path / "report.json").read_text()
    assert FinetuneRun(config(*args, "ppo.iterations=3", "resume=true"), []).train() == json.loads(report)
    assert (tmp_path / "report.json").read_text() == report


@pytest.mark.parametrize("override, message", [
    ("task.env.task=Hopper-v99", "unknown .*task"),
    ("algo=nope", "unknown algo"),
    ("task=pusht", "obs_dim=11, but the env needs obs_dim=5"),
])
def test_bad_input_fails_before_any_env_starts(monkeypatch, hopper_checkpoint, override, message):
    def no_env(*args, **kwargs):
        raise AssertionError("an env was started before the input was validated")

    monkeypatch.setattr(runner, "make_env", no_env)
    with pytest.raises(ValueError, match=message):
        FinetuneRun(config(f"policy.path={hopper_checkpoint}", *override.split()), [])


def test_two_process_accelerate_keeps_parameters_identical(tmp_path, hopper_checkpoint):
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", str(Path(__file__).with_name("ddp_worker.py")), str(tmp_path),
           *TINY, f"policy.path={hopper_checkpoint}", f"output_dir={tmp_path / 'run'}"]
    subprocess.run(cmd, check=True, env=env, cwd=REPO_ROOT, timeout=300)
    rank0, rank1 = (load_file(tmp_path / f"rank{r}.safetensors") for r in (0, 1))
    assert rank0["world_size"].item() == 2 == rank1["world_size"].item()
    assert not torch.equal(rank0["last_obs"], rank1["last_obs"]), "both ranks saw the same data"
    assert rank0["ratio_check"].item() <= 1e-5 and rank1["ratio_check"].item() <= 1e-5
    after = [k for k in rank0 if k.startswith("after.")]
    assert any(not torch.equal(rank0[k], rank0[k.replace("after.", "before.")]) for k in after), "no update happened"
    for key in after:
        assert torch.equal(rank0[key], rank1[key]), f"{key} differs between ranks"


def test_shipped_checkpoints_match_their_tasks():
    for task in ("hopper", "pusht"):
        cfg = load_config(FinetuneConfig, "finetune", [f"task={task}"])
        path = REPO_ROOT / cfg.task.checkpoint
        assert (path / "COMMAND").is_file(), f"{path} should record the command that made it"
        from genpo.envs import env_spec

        load_policy(path, obs_dim=env_spec(cfg.task.env)[0], action_dim=env_spec(cfg.task.env)[1])


def test_non_finite_parameters_stop_the_run_and_keep_the_last_good_checkpoint(tmp_path, hopper_checkpoint):
    run = FinetuneRun(config(f"policy.path={hopper_checkpoint}", f"output_dir={tmp_path}", "ppo.iterations=3",
                             "eval_episodes=0"), [])
    iterate = run.ppo.iterate

    def iterate_then_poison_on_second_call():
        metrics = iterate()
        if run.ppo.iteration == 2:
            with torch.no_grad():
                next(run.ppo.unwrapped.critic.parameters()).fill_(float("nan"))
        return metrics

    run.ppo.iterate = iterate_then_poison_on_second_call
    with pytest.raises(SystemExit, match="training stopped at iteration 2: non-finite parameters.*last good checkpoint"):
        run.train()
    state = torch.load(tmp_path / "checkpoints" / "last" / "training_state.pt", weights_only=True)
    assert state["ranks"][0]["iteration"] == 1
    critic = load_file(tmp_path / "checkpoints" / "last" / "actor_critic.safetensors")
    assert all(torch.isfinite(t).all() for t in critic.values())


def test_training_from_scratch_uses_the_independent_pair_init(tmp_path):
    cfg = config("policy.from_scratch=true", "policy.hidden_dim=32", "policy.num_blocks=1", "policy.num_steps=4",
                 f"output_dir={tmp_path}", "ppo.iterations=1")
    run = FinetuneRun(cfg, [])
    sampler = run.algorithm.policy.sampler
    assert sampler.init == "independent" and not run.algorithm.policy.sampler_params()
    run.train()
    assert run.logger.rows[-1]["ppo/ratio_check"] <= 1e-5
    assert load_policy(tmp_path / "checkpoints" / "last", obs_dim=11, action_dim=3).config.sampler.init == "independent"


def test_gaussian_ppo_from_scratch_trains_a_fresh_gaussian_policy(tmp_path):
    """algo=ppo policy.from_scratch=true: how the project trains its own experts (e.g. IsaacLab Cartpole)."""
    cfg = config("algo=ppo", "policy.from_scratch=true", "policy.hidden_dim=32", "policy.num_blocks=1",
                 "task.horizon=1", "task.n_action_steps=1", f"output_dir={tmp_path}", "ppo.iterations=1")
    run = FinetuneRun(cfg, [])
    assert isinstance(run.algorithm.policy, GaussianPolicy) and "from scratch" in run.source
    run.train()
    assert run.logger.rows[-1]["ppo/ratio_check"] <= 1e-5
    reloaded = load_policy(tmp_path / "checkpoints" / "last", obs_dim=11, action_dim=3)
    assert isinstance(reloaded, GaussianPolicy) and reloaded.config.horizon == 1


def test_nan_actions_never_reach_the_simulator(tmp_path, hopper_checkpoint):
    run = FinetuneRun(config(f"policy.path={hopper_checkpoint}", f"output_dir={tmp_path}", "ppo.iterations=2",
                             "eval_episodes=0"), [])
    act, simulator_step, seen = run.algorithm.act, run.env._venv.step, []

    def act_nan_at_iteration_2(obs, generator=None):
        out = act(obs, generator)
        if run.ppo.iteration == 1:
            out.env_actions = torch.full_like(out.env_actions, float("nan"))
        return out

    def recording_step(actions):
        seen.append(np.isfinite(actions).all())
        return simulator_step(actions)

    run.algorithm.act, run.env._venv.step = act_nan_at_iteration_2, recording_step
    with pytest.raises(SystemExit, match=r"training stopped at iteration 2: \d+ of \d+ action entries are NaN or infinite; "
                                         "refused before they reached the GymVectorEnv simulator; the last good checkpoint"):
        run.train()
    assert seen and all(seen)
    assert torch.load(tmp_path / "checkpoints" / "last" / "training_state.pt", weights_only=True)["ranks"][0]["iteration"] == 1


@pytest.mark.parametrize("override, message", [
    ("genpopp.action_noise=-1", r"genpopp.action_noise=-1.0 is out of range: must be > 0 \(default 0.08\)"),
    ("genpopp.tau=-0.1", r"genpopp.tau=-0.1 is out of range: must be >= 0"),
    ("genpopp.sigma=0", r"genpopp.sigma=0.0 is out of range: must be > 0 and <= 1"),
    ("genpopp.sigma=1.2", r"genpopp.sigma=1.2 is out of range: must be > 0 and <= 1"),
    ("ppo.iterations=-1", r"ppo.iterations=-1 is out of range: must be >= 0"),
    ("ppo.minibatch_size=0", r"ppo.minibatch_size=0 is out of range: must be >= 1"),
    ("reinflow.min_std=0.5", r"reinflow.min_std=0.5 is out of range: must be > 0 and <= reinflow.max_std \(0.24\)"),
    ("eval_episodes=-1", r"eval_episodes=-1 is out of range: must be >= 0"),
])
def test_config_values_that_cannot_work_are_refused_when_the_config_is_composed(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(FinetuneConfig, "finetune", [override])


def sample_differently(run, change):
    """Make the algorithm act with `change(policy copy)` while the harness recomputes log-probs with the policy."""
    act = run.algorithm.act

    def act_changed(obs, generator=None):
        original = run.algorithm.policy
        run.algorithm.policy = change(copy.deepcopy(original))
        try:
            return act(obs, generator)
        finally:
            run.algorithm.policy = original

    run.algorithm.act = act_changed


@pytest.mark.parametrize("change", ["grid", "float16_storage"])
def test_the_ratio_check_catches_a_sampler_that_disagrees_with_its_log_prob(tmp_path, hopper_checkpoint, change):
    run = FinetuneRun(config(f"policy.path={hopper_checkpoint}", f"output_dir={tmp_path}", "ppo.iterations=1",
                             "ppo.critic_warmup_iters=0", "eval_episodes=0"), [])
    if change == "grid":  # sampling on another time grid than the one the log-prob inverts
        def other_grid(policy):
            policy.set_sampler(dataclasses.replace(policy.config.sampler, grid=[0.0, 0.4, 0.7, 0.9, 1.0]))
            policy.sampler_params()["log_tau"].data.copy_(run.algorithm.policy.sampler_params()["log_tau"])
            return policy
        sample_differently(run, other_grid)
    else:  # the stored pair kept in half precision
        act = run.algorithm.act
        run.algorithm.act = lambda obs, generator=None: dataclasses.replace(
            out := act(obs, generator), stored=out.stored.half().float())
    with pytest.raises(RatioCheckError, match=r"differs from the sampling-time one by .* > ppo.log_prob_tol=0.01"):
        run.train()


def test_the_ratio_check_passes_float32_round_off_and_logs_the_gap(tmp_path, hopper_checkpoint):
    run = FinetuneRun(config(f"policy.path={hopper_checkpoint}", f"output_dir={tmp_path}", "ppo.iterations=1",
                             "ppo.critic_warmup_iters=0", "eval_episodes=0"), [])
    run.train()
    assert 0 <= run.logger.rows[-1]["ppo/log_prob_gap"] <= 1e-2 and run.logger.rows[-1]["ppo/ratio_check"] <= 1e-5
