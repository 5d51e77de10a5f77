"""Evaluate a policy directory (genpo flow / DDPM / Gaussian, or a LeRobot Diffusion Policy) in a task's env
with its OWN sampler, zero sampling (z = 0; a Gaussian policy's mean) and stochastic sampling (z ~ N(0, I)).

    python tools/evaluate_policy.py --task hopper --policy checkpoints/hopper_medium --episodes 50

Every env runs the same number of whole episodes (ceil(episodes / num_envs) each, as genpo.rollout.evaluate
does, so short episodes are not over-sampled). Prints one line per mode and, with --json, writes the numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time

import numpy as np
import torch

from finetune.config import FinetuneConfig
from genpo.checkpoint import load_policy
from genpo.cli import user_errors
from genpo.config import load_config, resolve_path
from genpo.envs import env_spec, make_env
from genpo.rollout import evaluate


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", required=True, help="a configs/task/<name>.yaml")
    parser.add_argument("--policy", required=True, help="a policy directory")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--num_envs", type=int, default=0, help="0: min(episodes, the task's num_envs)")
    parser.add_argument("--seed", type=int, default=10_000)
    parser.add_argument("--modes", default="zero,stochastic", help="comma-separated: zero, stochastic")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default="", help="write the results here")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error(f"--episodes must be >= 1, got {args.episodes}")
    return args


def main(argv: list[str]) -> dict:
    with user_errors():  # bad arguments, task, policy or env: one line, exit 2
        args = parse_args(argv)
        if args.threads:
            torch.set_num_threads(args.threads)
        cfg = load_config(FinetuneConfig, "finetune", [f"task={args.task}"])
        obs_dim, action_dim = env_spec(cfg.task.env)
        policy = load_policy(resolve_path(args.policy), obs_dim=obs_dim, action_dim=action_dim)
        source = policy.description
        num_envs = args.num_envs or min(args.episodes, cfg.task.env.num_envs)
        env = make_env(dataclasses.replace(cfg.task.env, num_envs=num_envs, action_steps=policy.config.n_action_steps,
                                           seed=args.seed))
    policy = policy.to(env.device).eval()
    act = lambda obs, zero, generator: policy.sample(obs, zero=zero, generator=generator).env_actions
    out = {"policy": args.policy, "source": source, "task": args.task, "seed": args.seed, "num_envs": num_envs,
           "episodes_per_env": math.ceil(args.episodes / num_envs)}
    try:
        for mode in args.modes.split(","):
            start = time.time()
            result = evaluate(act, env, args.episodes, zero=(mode == "zero"), seed=args.seed)
            r = np.asarray(result.returns)
            out[mode] = {"return_mean": float(r.mean()), "return_std": float(r.std()), "return_min": float(r.min()),
                         "return_max": float(r.max()), "length_mean": float(np.mean(result.lengths)),
                         "episodes": len(r), "wall_s": time.time() - start}
            print(f"{args.policy} {mode}: return {r.mean():.1f} ± {r.std():.1f} (min {r.min():.1f}, max {r.max():.1f}), "
                  f"length {np.mean(result.lengths):.1f}, {len(r)} episodes, {time.time() - start:.0f} s", flush=True)
    finally:
        env.close()
    if args.json:
        resolve_path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
