"""Time of one velocity-network call against its batch size: per-call overhead or compute?

    python benchmarks/network_call_cost.py [--checkpoint checkpoints/hopper_medium] [--batches 1 16 40 64 256]
        [--threads 1] [--compile]

Times `velocity_net(x, obs, t)` of the checkpoint under `torch.inference_mode` (the rollout's setting) at each batch
size and prints ms per call, µs per sample and the achieved GFLOP/s, where FLOPs per sample = 2 x the weights of
the network's Linear layers (the matrix products; LayerNorm, SiLU and the time embedding are left out). A call
whose time grows in proportion to the batch is compute-bound; one whose time barely changes with it is paid in
per-call overhead. `--compile` times `torch.compile(velocity_net)` too. Writes
benchmarks/results/network_call_cost.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch import nn

from genpo.checkpoint import load_policy
from genpo.io import atomic_write_text


def linear_flops_per_sample(module: nn.Module) -> int:
    return sum(2 * layer.weight.numel() for layer in module.modules() if isinstance(layer, nn.Linear))


def seconds_per_call(net, inputs: tuple[torch.Tensor, ...], repeats: int) -> float:
    """Best of 5 timings of `repeats` calls each (the minimum is the least disturbed by other jobs on the cores)."""
    for _ in range(10):  # warm-up (and compilation)
        net(*inputs)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            net(*inputs)
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="checkpoints/hopper_medium")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16, 40, 64, 256])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile(velocity_net)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    net = load_policy(args.checkpoint).velocity_net.eval()
    flops = linear_flops_per_sample(net)
    variants = {"eager": net, **({"compiled": torch.compile(net)} if args.compile else {})}
    rows = []
    with torch.inference_mode():
        for name, fn in variants.items():
            for batch in args.batches:
                inputs = (torch.randn(batch, net.action_dim), torch.randn(batch, net.obs_dim), torch.rand(batch))
                seconds = seconds_per_call(fn, inputs, args.repeats)
                rows.append({"variant": name, "batch": batch, "ms_per_call": seconds * 1e3,
                             "us_per_sample": seconds * 1e6 / batch, "gflops": flops * batch / seconds / 1e9})
                print(rows[-1], flush=True)
    print(f"\n{args.checkpoint}: {flops:,} FLOPs per sample (Linear layers), {args.threads} torch thread(s)\n")
    print("| variant | batch | ms / call | µs / sample | GFLOP/s |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['variant']} | {r['batch']} | {r['ms_per_call']:.3f} | {r['us_per_sample']:.1f} | {r['gflops']:.1f} |")
    atomic_write_text(Path(__file__).parent / "results" / "network_call_cost.json",
                      json.dumps({"checkpoint": args.checkpoint, "threads": args.threads, "flops_per_sample": flops,
                                  "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
