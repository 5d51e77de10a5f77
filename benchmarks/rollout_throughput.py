"""Rollout env-steps/s of the GenPO++ policy against raw random-action stepping, for 1, 8 and 32 envs.

    python benchmarks/rollout_throughput.py [--task Hopper-v5] [--seconds 5] [--checkpoint checkpoints/hopper_noisy_expert]

Prints a markdown table and writes benchmarks/results/rollout_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from finetune.algos.genpopp import GenPOpp, GenPOppConfig
from genpo.checkpoint import load_policy
from genpo.config import resolve_path
from genpo.envs import make_env
from genpo.envs.base import EnvConfig


def steps_per_second(env, act, seconds: float) -> float:
    obs, steps, start = env.reset(seed=0), 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        obs = env.step(act(obs)).obs
        steps += env.num_envs * env.action_steps
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="Hopper-v5")
    parser.add_argument("--checkpoint", default="checkpoints/hopper_noisy_expert")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--envs", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--vector-modes", nargs="+", default=["sync", "async"])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (fine-tuning's default is 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for mode in args.vector_modes:
        for num_envs in args.envs:
            policy = load_policy(resolve_path(args.checkpoint))
            env = make_env(EnvConfig(backend="mujoco", task=args.task, num_envs=num_envs, vector_mode=mode,
                                     action_steps=policy.config.n_action_steps))
            algorithm = GenPOpp(policy, GenPOppConfig())
            algorithm.prepare(env.reset(seed=0))
            low, high = env.action_low, env.action_high
            k, d = env.action_steps, env.action_dim
            random_act = lambda obs: low + (high - low) * torch.rand(obs.shape[0], k, d)
            raw = steps_per_second(env, random_act, args.seconds)
            with torch.no_grad():
                rollout = steps_per_second(env, lambda obs: algorithm.act(obs).env_actions, args.seconds)
            env.close()
            rows.append(
                {
                    "vector_mode": mode,
                    "num_envs": num_envs,
                    "random_steps_per_s": raw,
                    "genpopp_rollout_steps_per_s": rollout,
                }
            )
            print(rows[-1], flush=True)
    print(
        f"\n{args.task}, chunk k={k}, {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads\n"
    )
    print("| vector env | envs | random actions (env steps/s) | GenPO++ rollout (env steps/s) | rollout / random |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['vector_mode']} | {r['num_envs']} | {r['random_steps_per_s']:,.0f} | {r['genpopp_rollout_steps_per_s']:,.0f} "
            f"| {r['genpopp_rollout_steps_per_s'] / r['random_steps_per_s']:.2f} |"
        )
    out = Path(__file__).parent / "results" / "rollout_throughput.json"
    out.write_text(json.dumps({"task": args.task, "checkpoint": args.checkpoint, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
