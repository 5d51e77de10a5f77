"""IsaacLab 3.0 on the CPU (Newton physics): time per env.step and env-steps/s, random actions, per task and
number of envs. One simulation per process, so each (task, num_envs) runs in its own subprocess.

    python benchmarks/isaaclab_step_time.py [--tasks Isaac-Cartpole Isaac-Ant] [--envs 16 64 256] [--steps 200]

Prints a markdown table and writes benchmarks/results/isaaclab_step_time.json (after a warm-up of 20 steps;
the first start of a task compiles Warp kernels, which is not timed here).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results" / "isaaclab_step_time.json"


def measure(task: str, num_envs: int, steps: int) -> dict[str, float]:
    """In this process: make the env, warm up, time `steps` random-action steps."""
    from genpo.envs import EnvConfig, make_env

    start = time.perf_counter()
    env = make_env(EnvConfig(backend="isaaclab", task=task, num_envs=num_envs, seed=0))
    made = time.perf_counter() - start
    try:
        env.reset(seed=0)
        generator = torch.Generator().manual_seed(0)
        for i in range(20 + steps):
            if i == 20:
                start = time.perf_counter()
            env.step(torch.rand(num_envs, 1, env.action_dim, generator=generator) * 2 - 1)
        elapsed = time.perf_counter() - start
    finally:
        env.close()
    return {"task": task, "num_envs": num_envs, "ms_per_step": 1000 * elapsed / steps,
            "env_steps_per_s": num_envs * steps / elapsed, "make_s": made}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["Isaac-Cartpole", "Isaac-Ant"])
    parser.add_argument("--envs", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--one", nargs=2, metavar=("TASK", "NUM_ENVS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print("RESULT " + json.dumps(measure(args.one[0], int(args.one[1]), args.steps)))
        return
    rows = []
    for task in args.tasks:
        for num_envs in args.envs:
            run = subprocess.run([sys.executable, __file__, "--one", task, str(num_envs), "--steps", str(args.steps)],
                                 capture_output=True, text=True, check=True)
            rows.append(json.loads(next(line for line in run.stdout.splitlines() if line.startswith("RESULT "))[7:]))
            print(f"| {task} | {num_envs} | {rows[-1]['ms_per_step']:.1f} ms | {rows[-1]['env_steps_per_s']:,.0f} |", flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                               "steps": args.steps, "rows": rows}, indent=2))
    tmp.replace(RESULTS)


if __name__ == "__main__":
    main()
