"""Stage 1: flow-matching behaviour cloning on a LeRobotDataset, written as a LeRobot policy directory.

    python pretrain/run.py                                # Hopper-medium, the embedded default
    python pretrain/run.py task=pusht steps=20000
    python pretrain/run.py task=hopper save_to=checkpoints/hopper_noisy_expert
    python pretrain/run.py task=hopper objective=ddpm save_to=checkpoints/hopper_noisy_expert_ddpm          # for DPPO
    python pretrain/run.py task=hopper objective=gaussian save_to=checkpoints/hopper_noisy_expert_gaussian  # for PPO

objective=ddpm and objective=gaussian train the baselines' policies on the same data, with the same
network width/depth (policy.hidden_dim, policy.num_blocks) and the same number of updates.
"""

from __future__ import annotations

import copy
import dataclasses
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import torch
from tqdm import tqdm

from genpo.checkpoint import save_policy
from genpo.cli import user_errors
from genpo.config import Allowed, above, at_least, between, load_config, one_of, resolve_path, to_yaml
from genpo.metrics import MetricsLogger
from genpo.policies.diffusion import DiffusionConfig, DiffusionPolicy, DiffusionPolicyConfig
from genpo.policies.flow import FlowPolicy, FlowPolicyConfig
from genpo.policies.gaussian import GaussianPolicy, GaussianPolicyConfig
from genpo.task import TaskConfig
from pretrain.data import Demonstrations

OBJECTIVES = ("flow", "ddpm", "gaussian")


@dataclass
class PretrainConfig:
    task: TaskConfig = field(default_factory=TaskConfig)
    policy: FlowPolicyConfig = field(default_factory=FlowPolicyConfig)
    objective: str = "flow"  # flow (flow matching) | ddpm (epsilon prediction, DPPO) | gaussian (Gaussian NLL, PPO)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)  # objective=ddpm: schedule
    gaussian_init_std: float = 1.0  # objective=gaussian: initial std of the policy
    steps: int = 20_000
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-6
    ema_decay: float = 0.999
    log_every: int = 100
    seed: int = 0
    output_dir: str = ""  # default: runs/pretrain/<task>-<time>
    save_to: str = ""  # also write the final (EMA) policy here, e.g. checkpoints/hopper_noisy_expert
    eval_episodes: int = 10  # 0 disables the final evaluation in the task's env
    threads: int = 1  # torch intra-op threads per process (1 is fastest for these small nets on CPU); 0: torch's default

    ALLOWED: ClassVar[dict[str, Allowed]] = {
        "objective": one_of(*OBJECTIVES), "gaussian_init_std": above(0), "steps": at_least(1), "batch_size": at_least(1),
        "lr": above(0), "weight_decay": at_least(0), "ema_decay": between(0, 1, high_open=True), "log_every": at_least(1),
        "eval_episodes": at_least(0), "threads": at_least(0),
    }


def run_dir_for(cfg: PretrainConfig) -> Path:
    if cfg.output_dir:
        return resolve_path(cfg.output_dir)
    name = cfg.task.name if cfg.objective == "flow" else f"{cfg.task.name}-{cfg.objective}"
    return Path("runs/pretrain") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def make_policy(cfg: PretrainConfig, stats: dict):
    """The policy the objective trains; all share cfg.policy's width, depth and chunk layout."""
    if cfg.objective == "flow":
        return FlowPolicy(cfg.policy, stats)
    if cfg.objective == "ddpm":
        return DiffusionPolicy(DiffusionPolicyConfig.like(cfg.policy, diffusion=cfg.diffusion), stats)
    if cfg.objective == "gaussian":
        return GaussianPolicy(GaussianPolicyConfig.like(cfg.policy, init_std=cfg.gaussian_init_std), stats)
    raise ValueError(f"unknown objective {cfg.objective!r}; choose one of: {', '.join(OBJECTIVES)}")


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p, 1 - decay)


def train(cfg: PretrainConfig, demos: Demonstrations, run_dir: Path) -> FlowPolicy:
    """Flow matching with AdamW, cosine LR and EMA weights; returns the EMA policy."""
    policy = make_policy(cfg, demos.stats)
    objective_loss = policy.bc_loss
    ema = copy.deepcopy(policy).requires_grad_(False)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, cfg.steps)
    generator = torch.Generator().manual_seed(cfg.seed)
    logger = MetricsLogger(run_dir)
    running = 0.0
    bar = tqdm(range(1, cfg.steps + 1), desc=f"pretrain {cfg.task.name}", dynamic_ncols=True, mininterval=2.0)
    for step in bar:
        index = torch.randint(len(demos), (cfg.batch_size,), generator=generator)
        loss = objective_loss(demos.obs[index], demos.actions[index], generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        ema_update(ema, policy, cfg.ema_decay)
        running += loss.item()
        if step % cfg.log_every == 0 or step == cfg.steps:
            count = step % cfg.log_every or cfg.log_every
            logger.log(step, {f"train/{cfg.objective}_loss": running / count, "train/lr": schedule.get_last_lr()[0]})
            bar.set_postfix(loss=f"{running / count:.4f}")
            running = 0.0
    logger.close()
    return ema


def evaluate_in_env(cfg: PretrainConfig, policy: FlowPolicy) -> dict[str, float]:
    """Zero-sampling evaluation in the task's env, if its backend is installed."""
    from genpo.envs import make_env
    from genpo.rollout import evaluate

    env_cfg = dataclasses.replace(cfg.task.env, action_steps=cfg.policy.n_action_steps)
    try:
        env = make_env(env_cfg)
    except ImportError as err:
        print(f"skipping evaluation: {err}")
        return {}
    try:
        act = lambda obs, zero, generator: policy.sample(obs, zero=zero, generator=generator).env_actions
        return evaluate(act, env, cfg.eval_episodes, zero=True, seed=cfg.seed + 10_000).summary("eval_zero")
    finally:
        env.close()


def shaped_by(cfg: PretrainConfig, demos: Demonstrations) -> PretrainConfig:
    """The config with the policy's dimensions and chunk layout taken from the data and the task (a new config)."""
    task = cfg.task
    shape = dict(obs_dim=demos.obs.shape[1], action_dim=demos.actions.shape[2], horizon=task.horizon,
                 n_action_steps=task.n_action_steps, obs_key=task.obs_key, action_key=task.action_key)
    return dataclasses.replace(cfg, policy=dataclasses.replace(cfg.policy, **shape))


def start(argv: list[str]) -> tuple[PretrainConfig, Demonstrations]:
    """Everything that can fail on bad input, before any training: the config, the env's task id, the dataset."""
    from genpo.envs import env_spec

    cfg = load_config(PretrainConfig, "pretrain", argv)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    task = cfg.task
    try:  # an unknown task id fails now, not after training
        obs_dim = env_spec(task.env)[0] if cfg.eval_episodes > 0 else None
    except ImportError:  # the backend is not installed: evaluate_in_env says so and skips the evaluation
        obs_dim = None
    if not resolve_path(task.dataset).is_dir():
        raise FileNotFoundError(f"task.dataset={task.dataset or "''"} is not a directory: give a LeRobotDataset v3.0 directory "
                                "(datasets/README.md lists the shipped ones)")
    demos = Demonstrations.load(resolve_path(task.dataset), task.obs_key, task.action_key, task.horizon)
    if obs_dim is not None and demos.obs.shape[1] != obs_dim:
        raise ValueError(f"dataset {task.dataset} has {demos.obs.shape[1]}-d observations, but the env {task.env.task} gives "
                         f"{obs_dim}: pick the dataset of this task (task.dataset=...) or eval_episodes=0")
    return shaped_by(cfg, demos), demos


def run(cfg: PretrainConfig, demos: Demonstrations, argv: list[str]) -> dict[str, float]:
    """Train, write the checkpoint(s), evaluate in the env."""
    run_dir = run_dir_for(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"pretraining on {cfg.task.dataset}: {len(demos)} frames -> {run_dir}")
    began = time.time()
    policy = train(cfg, demos, run_dir)
    (run_dir / "config.yaml").write_text(to_yaml(cfg))
    command = "python pretrain/run.py " + " ".join(argv)
    for target in filter(None, [run_dir / "checkpoint", cfg.save_to and resolve_path(cfg.save_to)]):
        save_policy(policy, target, extra_files={"pretrain_config.yaml": to_yaml(cfg), "COMMAND": command + "\n"})
    results = {"train/wall_time_s": time.time() - began}
    if cfg.eval_episodes > 0:
        results.update(evaluate_in_env(cfg, policy))
    print(" ".join(f"{k}={v:.4g}" for k, v in results.items()))
    return results


def main(argv: list[str]) -> dict[str, float]:
    return run(*start(argv), argv)


if __name__ == "__main__":
    with user_errors():  # a bad key, task or dataset: one line on stderr, exit status 2
        cfg, demos = start(sys.argv[1:])
    run(cfg, demos, sys.argv[1:])  # outside: an error while training keeps its traceback
