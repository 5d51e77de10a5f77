"""How well each sampler conversion keeps a pretrained policy: zero-sampling action deviation from the
checkpoint's own sampler and the task score at z = 0, per (checkpoint, sampler).

    python benchmarks/conversion_fidelity.py --task pusht --checkpoint checkpoints/pusht --episodes 200
    python benchmarks/conversion_fidelity.py --task hopper --checkpoint checkpoints/hopper_medium --episodes 100

Samplers: "own" (the checkpoint's own: its Euler ODE, or LeRobot's DDIM for a converted Diffusion
Policy), GenPO++ (genpopp.* settings, one variant per --variants entry, e.g. sigma=0.8 or
coefficient=dt; prepared as a fine-tuning run prepares it: distillation and tau calibration on the task
dataset's observations). The deviation is finetune.conversion's check (RMS over the executed actions of 16
zero-sampling policy steps in every env, normalised units); the score is the mean zero-sampling
return (and success rate) over --episodes episodes, evaluated as fine-tuning evaluates. One JSON line
per row is appended to --out (a resumable log: rows already there are skipped).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from finetune.algos.genpopp import GenPOpp, GenPOppConfig
from finetune.config import FinetuneConfig
from finetune.conversion import check_conversion, dataset_observations, start_observations, zero_sampling_actions
from finetune.runner import PREPARE_OBSERVATIONS
from genpo.checkpoint import load_policy
from genpo.cli import user_errors
from genpo.config import load_config, resolve_path
from genpo.envs import make_env
from genpo.rollout import evaluate


def parse_variant(text: str) -> dict:
    """"sigma=0.8,coefficient=dt" -> GenPOppConfig fields (values parsed as numbers where they are)."""
    fields = {}
    for item in filter(None, text.split(",")):
        key, value = item.split("=", 1)
        try:
            fields[key] = float(value) if "." in value or "e" in value else int(value)
        except ValueError:
            fields[key] = value
    return fields


def measure(task: str, checkpoint: str, variant: str, episodes: int, seed: int) -> dict:
    cfg = load_config(FinetuneConfig, "finetune", [f"task={task}"])
    policy = load_policy(resolve_path(checkpoint))
    env_cfg = dataclasses.replace(cfg.task.env, action_steps=policy.config.n_action_steps, seed=seed)
    env = make_env(env_cfg)
    try:
        probe = start_observations(policy, env, 16, seed)
        own = zero_sampling_actions(policy, probe)
        if variant == "own":
            act, deviation = (lambda obs, zero, generator: policy.sample(obs, zero=zero, generator=generator).env_actions), 0.0
        else:
            algorithm = GenPOpp(policy, GenPOppConfig(**parse_variant(variant)))
            prepare_obs = dataset_observations(cfg.task, policy.config.obs_dim, PREPARE_OBSERVATIONS, seed)  # as a run does
            algorithm.prepare(env.reset(seed=seed).repeat(max(1, 256 // env.num_envs), 1) if prepare_obs is None else prepare_obs)
            deviation = check_conversion(own, algorithm, probe, []).rms
            act = algorithm.act_for_eval
        start = time.time()
        with torch.no_grad():
            result = evaluate(act, env, episodes, zero=True, seed=seed + 10_000)
        summary = result.summary("eval_zero")
    finally:
        env.close()
    return {"task": task, "checkpoint": checkpoint, "sampler": variant, "deviation_rms": deviation,
            "episodes": len(result.returns), "seed": seed, "eval_s": time.time() - start, **summary}


def markdown(rows: list[dict]) -> str:
    """One table per (task, checkpoint): sampler, deviation, episodes, zero-sampling return (and success)."""
    lines = []
    for key in dict.fromkeys((r["task"], r["checkpoint"]) for r in rows):
        group = [r for r in rows if (r["task"], r["checkpoint"]) == key]
        success = any("eval_zero/success_rate" in r for r in group)
        lines += [f"### `{key[1]}` on task `{key[0]}`", "",
                  "| sampler | action deviation (RMS) | episodes | zero-sampling return |" + (" success |" if success else ""),
                  "|---|---|---|---|" + ("---|" if success else "")]
        for r in group:
            cells = [r["sampler"], f"{r['deviation_rms']:.4f}", str(r["episodes"]),
                     f"{r['eval_zero/return_mean']:.1f} ± {r['eval_zero/return_std']:.1f}"]
            if success:
                cells.append(f"{r['eval_zero/success_rate']:.3f}")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", help="a configs/task/<name>.yaml")
    parser.add_argument("--checkpoint")
    parser.add_argument("--variants", nargs="+", default=["own", "sigma=0.95", "sigma=0.9", "sigma=0.8", "sigma=0.7",
                                                          "sigma=0.9,coefficient=dt"])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/conversion_fidelity.jsonl"))
    parser.add_argument("--markdown", action="store_true", help="print the tables of --out and measure nothing")
    with user_errors():
        args = parser.parse_args()
    if args.markdown:
        print(markdown([json.loads(line) for line in args.out.read_text().splitlines()]))
        return
    torch.set_num_threads(1)
    done = set()
    if args.out.is_file():
        done = {(r["task"], r["checkpoint"], r["sampler"], r["seed"]) for r in map(json.loads, args.out.read_text().splitlines())}
    for variant in args.variants:
        if (args.task, args.checkpoint, variant, args.seed) in done:
            continue
        row = measure(args.task, args.checkpoint, variant, args.episodes, args.seed)
        print(json.dumps(row))
        with open(args.out, "a") as f:  # one whole line per finished row
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
