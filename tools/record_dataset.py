"""Record a policy's episodes in a task's env as a LeRobotDataset v3.0 directory, with a dataset card.

    python tools/record_dataset.py --task isaaclab_cartpole --policy checkpoints/isaaclab_cartpole_expert_ppo \
        --episodes 200 --sampling stochastic --out datasets/isaaclab_cartpole_medium

How the datasets are made the D4RL way: "expert" = the trained policy's zero-sampling (mean) actions,
"medium" = a partially trained policy (stopped at about a third of the expert's return) recording its
stochastic actions. Every env runs whole episodes; each env contributes the same number of its first
episodes (taking whichever episodes finish first would over-sample short, failed episodes).

A policy acts once per chunk of k = n_action_steps actions; the env runs one action per step so that each
frame is one (observation, action, reward, done). Actions are recorded as executed (clipped to the env's
action bounds). Frames: observation.state, action, next.reward, next.done, next.terminated.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import shlex
import sys

import numpy as np
import torch

from finetune.config import FinetuneConfig
from genpo.checkpoint import load_policy
from genpo.cli import user_errors
from genpo.config import load_config, resolve_path
from genpo.data import write_dataset
from genpo.envs import BatchedEnv, env_spec, make_env
from genpo.policies import ChunkPolicy


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", required=True, help="a configs/task/<name>.yaml")
    parser.add_argument("--policy", required=True, help="a policy directory (genpo or LeRobot)")
    parser.add_argument("--episodes", type=int, required=True,
                        help="episodes to record, rounded up to a multiple of the number of envs (each env runs as many)")
    parser.add_argument("--sampling", choices=("zero", "stochastic"), required=True,
                        help="zero: latent z = 0 (a Gaussian policy's mean); stochastic: z ~ N(0, I)")
    parser.add_argument("--out", required=True, help="dataset directory to write (replaced atomically)")
    parser.add_argument("--num_envs", type=int, default=0, help="0: the task's num_envs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fps", type=int, required=True, help="policy steps per second of the env")
    parser.add_argument("--description", default="", help="one line for the card: what the policy is")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error(f"--episodes must be >= 1, got {args.episodes}")
    return args


class EpisodeRecorder:
    """Per-env frame buffers; keeps each env's first `per_env` finished episodes."""

    def __init__(self, num_envs: int, per_env: int):
        self.per_env = per_env
        self.open: list[dict[str, list]] = [self._empty() for _ in range(num_envs)]
        self.done: list[list[dict[str, np.ndarray]]] = [[] for _ in range(num_envs)]

    @staticmethod
    def _empty() -> dict[str, list]:
        return {"observation.state": [], "action": [], "next.reward": [], "next.done": [], "next.terminated": []}

    @property
    def finished(self) -> bool:
        return all(len(d) >= self.per_env for d in self.done)

    def add(self, obs: torch.Tensor, action: torch.Tensor, reward: torch.Tensor, terminated: torch.Tensor,
            truncated: torch.Tensor) -> None:
        frame = zip(obs.cpu().numpy(), action.cpu().numpy(), reward.cpu().numpy(), terminated.cpu().numpy(),
                    truncated.cpu().numpy(), strict=True)
        for j, (o, a, r, term, trunc) in enumerate(frame):
            buf = self.open[j]
            for key, value in (("observation.state", o), ("action", a), ("next.reward", np.float32(r)),
                               ("next.done", bool(term or trunc)), ("next.terminated", bool(term))):
                buf[key].append(value)
            if term or trunc:
                if len(self.done[j]) < self.per_env:
                    self.done[j].append({k: np.asarray(v) for k, v in buf.items()})
                self.open[j] = self._empty()

    def episodes(self) -> list[dict[str, np.ndarray]]:
        return [ep for env_episodes in self.done for ep in env_episodes[: self.per_env]]


@torch.no_grad()
def record(policy, env, per_env: int, zero: bool, seed: int) -> list[dict[str, np.ndarray]]:
    recorder = EpisodeRecorder(env.num_envs, per_env)
    generator = torch.Generator(device=env.device).manual_seed(seed)
    obs = env.reset(seed=seed)
    k = policy.config.n_action_steps
    while not recorder.finished:
        chunk = policy.sample(obs, zero=zero, generator=generator).env_actions  # (B, k, d)
        assert chunk.shape[1] == k and torch.isfinite(chunk).all(), "the policy produced non-finite actions"
        executed = torch.maximum(torch.minimum(chunk, env.action_high), env.action_low)  # what the env runs
        for i in range(k):
            step = env.step(executed[:, i : i + 1])
            recorder.add(obs, executed[:, i], step.reward, step.terminated, step.truncated)
            obs = step.obs
    return recorder.episodes()


def card(args: argparse.Namespace, episodes: list[dict[str, np.ndarray]], task_id: str, command: str) -> str:
    returns = np.array([ep["next.reward"].astype(np.float64).sum() for ep in episodes])
    lengths = np.array([len(ep["action"]) for ep in episodes])
    frames = int(lengths.sum())
    latent = "latent z = 0, a Gaussian policy's mean" if args.sampling == "zero" else "z ~ N(0, I)"
    spread = (f"return {returns.mean():.1f} ± {returns.std():.1f} (min {returns.min():.1f}, max {returns.max():.1f}); "
              f"length {lengths.mean():.1f} ± {lengths.std():.1f}")
    return f"""# {resolve_path(args.out).name}

{args.description or "Episodes recorded from a policy checkpoint."}

- env: `{task_id}` (task config `configs/task/{args.task}.yaml`), {args.fps} policy steps per second
- policy: `{args.policy}`, {args.sampling} sampling ({latent})
- episodes: {len(episodes)} ({frames:,} frames); {spread}
- terminated (not time-out) episodes: {sum(bool(ep["next.terminated"][-1]) for ep in episodes)}
- features: observation.state, action, next.reward, next.done, next.terminated
- made by (offline, from the project's own checkpoint; no download):

      {command}
"""


def start(argv: list[str]) -> tuple[argparse.Namespace, FinetuneConfig, ChunkPolicy, BatchedEnv]:
    """Everything that can fail on bad input (arguments, task, policy checkpoint, env): what `record_and_write` needs."""
    args = parse_args(argv)
    cfg = load_config(FinetuneConfig, "finetune", [f"task={args.task}"])
    env_cfg = cfg.task.env
    obs_dim, action_dim = env_spec(env_cfg)
    policy = load_policy(resolve_path(args.policy), obs_dim=obs_dim, action_dim=action_dim)
    env = make_env(dataclasses.replace(env_cfg, num_envs=args.num_envs or env_cfg.num_envs, action_steps=1))
    return args, cfg, policy, env


def record_and_write(args: argparse.Namespace, cfg: FinetuneConfig, policy: ChunkPolicy, env: BatchedEnv, argv: list[str]) -> int:
    try:
        episodes = record(policy.to(env.device), env, math.ceil(args.episodes / env.num_envs), args.sampling == "zero", args.seed)
    finally:
        env.close()
    command = "python tools/record_dataset.py " + shlex.join(argv)
    out = write_dataset(resolve_path(args.out), episodes, fps=args.fps, robot_type=None, task=cfg.task.name,
                        overwrite=True, extra_files={"README.md": card(args, episodes, cfg.task.env.task, command)})
    print(f"recorded {len(episodes)} episodes of {policy.description} into {out}")
    return 0


def main(argv: list[str]) -> int:
    return record_and_write(*start(argv), argv)


if __name__ == "__main__":
    with user_errors():  # a bad task or policy: one line on stderr, exit status 2
        started = start(sys.argv[1:])
    sys.exit(record_and_write(*started, sys.argv[1:]))
