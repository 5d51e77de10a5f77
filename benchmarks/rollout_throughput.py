"""Rollout env-steps/s of each algorithm's training-time sampler against raw random-action stepping.

    python benchmarks/rollout_throughput.py [--task hopper] [--algos genpopp reinflow dppo fpo ppo] [--envs 16 40 64]
        [--seconds 5]

Each algorithm acts with its own start checkpoint (the one `finetune/run.py task=<task> algo=<algo>` loads) through
Algorithm.act, as in a rollout (no gradients); the random baseline steps the same vector env with uniform actions.
Prints a markdown table and writes benchmarks/results/rollout_throughput.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import torch

from finetune.algos import algorithm_class
from finetune.config import FinetuneConfig
from finetune.runner import start_checkpoint
from genpo.checkpoint import load_policy
from genpo.config import load_config
from genpo.envs import env_spec, make_env


def steps_per_second(env, act, seconds: float) -> float:
    obs, steps, start = env.reset(seed=0), 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        obs = env.step(act(obs)).obs
        steps += env.num_envs * env.action_steps
    return steps / (time.perf_counter() - start)


def measure(task: str, algo: str, num_envs: int, seconds: float) -> dict:
    cfg = load_config(FinetuneConfig, "finetune", [f"task={task}", f"algo={algo}"])
    obs_dim, action_dim = env_spec(cfg.task.env)
    policy = load_policy(start_checkpoint(cfg, Path()), obs_dim=obs_dim, action_dim=action_dim)
    env = make_env(dataclasses.replace(cfg.task.env, num_envs=num_envs, action_steps=policy.config.n_action_steps))
    algorithm_type = algorithm_class(algo)
    algorithm = algorithm_type(policy, getattr(cfg, algorithm_type.section()))  # untrained: speed does not need weights
    low, high, k, d = env.action_low, env.action_high, env.action_steps, env.action_dim
    raw = steps_per_second(env, lambda obs: low + (high - low) * torch.rand(obs.shape[0], k, d), seconds)
    with torch.inference_mode():
        rollout = steps_per_second(env, lambda obs: algorithm.act(obs).env_actions, seconds)
    env.close()
    return {"algo": algo, "num_envs": num_envs, "random_steps_per_s": raw, "rollout_steps_per_s": rollout}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="hopper")
    parser.add_argument("--algos", nargs="+", default=["genpopp", "reinflow", "dppo", "fpo", "ppo"])
    parser.add_argument("--envs", type=int, nargs="+", default=[16, 40, 64])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (fine-tuning's default under compare: 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for algo in args.algos:
        for num_envs in args.envs:
            rows.append(measure(args.task, algo, num_envs, args.seconds))
            print(rows[-1], flush=True)
    print(f"\n{args.task}, {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch thread(s)\n")
    print("| algorithm | envs | random actions (env steps/s) | rollout (env steps/s) | rollout / random |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['algo']} | {r['num_envs']} | {r['random_steps_per_s']:,.0f} | {r['rollout_steps_per_s']:,.0f} "
              f"| {r['rollout_steps_per_s'] / r['random_steps_per_s']:.2f} |")
    out = Path(__file__).parent / "results" / "rollout_throughput.json"
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"task": args.task, "threads": args.threads, "rows": rows}, indent=2))
    tmp.replace(out)


if __name__ == "__main__":
    main()
