"""Float32 round-trip error of the GenPO++ reversible sampler (genpopp.md §5), measured.

For N in {4, 10, 20} and sigma in {0.5, 0.8, 0.9, 1.0}, both initialisations (B "pretrained" with
tau = 0.05, A "independent"), consistent coefficient, on two velocity fields in dimension D = 8:

  mlp   : a random tanh MLP v(x, t) (moderate Lipschitz constant, ~1),
  stiff : a "near-deterministic pretrained" field v = (a*(x) - x) / (1 - t + eps), eps = 0.01,
          i.e. the exact rectified-flow velocity toward a (smooth, x-dependent) point target,
          whose dv/dx ~ -1/(1 - t) blows up near t = 1.

For 4096 latents z ~ N(0, I) per configuration it reports, all in float32 on CPU:

  max |z - inverse(forward(z))|                        (latent units; the xi slot of init B is
                                                        divided by tau, so it carries a 1/tau factor)
  max |delta log p| = max |log p32(pair) - log p64(z)|  (float32 log-prob of the float32 pair by
                                                        inversion vs the float64 log-prob of the
                                                        same latent: what PPO actually sees)
  history-noise gain (init B only)                     RMS of x_N(x_0, xi) - x_N(x_0, 0) divided
                                                        by tau, in float64 over the first 1024
                                                        latents: how much the solver
                                                        amplifies the exploration noise tau*xi

Samplers are built with max_inverse_gain=inf so the configurations the default guard
(max_inverse_gain = 100) refuses can still be measured; the `refused` column marks them.

Usage:  python benchmarks/roundtrip_error.py      (prints a markdown table, writes JSON)
"""

from __future__ import annotations

import json
import math
import platform
import time
from pathlib import Path

import torch

from genpo.samplers import ReversibleSampler

DIM = 8
BATCH = 4096
TAU = 0.05
STIFF_EPS = 0.01
STEPS = (4, 10, 20)
SIGMAS = (0.5, 0.8, 0.9, 1.0)
INITS = ("pretrained", "independent")
OUT = Path(__file__).resolve().parent / "results" / "roundtrip_error.json"


def mlp_field(dim: int, seed: int = 0, hidden: int = 32):
    g = torch.Generator().manual_seed(seed)
    w1 = torch.randn(dim + 1, hidden, generator=g, dtype=torch.float64) / math.sqrt(dim + 1)
    b1 = 0.1 * torch.randn(hidden, generator=g, dtype=torch.float64)
    w2 = torch.randn(hidden, dim, generator=g, dtype=torch.float64) / math.sqrt(hidden)
    b2 = 0.1 * torch.randn(dim, generator=g, dtype=torch.float64)
    params = {dt: [p.to(dt) for p in (w1, b1, w2, b2)] for dt in (torch.float32, torch.float64)}

    def v(x, t):  # same weights in float32 and float64 (float32 = rounded float64)
        w1, b1, w2, b2 = params[x.dtype]
        return torch.tanh(torch.cat([x, t[:, None]], -1) @ w1 + b1) @ w2 + b2

    return v


def stiff_field(dim: int, seed: int = 1, eps: float = STIFF_EPS):
    """v = (a*(x) - x) / (1 - t + eps), a*(x) = tanh(0.3 A x + b): pulls every sample to a target."""
    g = torch.Generator().manual_seed(seed)
    a = 0.3 * torch.randn(dim, dim, generator=g, dtype=torch.float64) / math.sqrt(dim)
    b = 0.5 * torch.randn(dim, generator=g, dtype=torch.float64)
    params = {dt: (a.to(dt), b.to(dt)) for dt in (torch.float32, torch.float64)}

    def v(x, t):
        a, b = params[x.dtype]
        return (torch.tanh(x @ a + b) - x) / (1 - t[:, None] + eps)

    return v


FIELDS = {"mlp": mlp_field(DIM), "stiff": stiff_field(DIM)}


def measure(field: str, init: str, n: int, sigma: float) -> dict:
    velocity = FIELDS[field]
    sampler = ReversibleSampler(n, sigma, init, "consistent", max_inverse_gain=float("inf"))
    refused = sampler.inverse_gain > 100.0  # what the default guard would do
    g = torch.Generator().manual_seed(1234)
    z = torch.randn(BATCH, 2, DIM, generator=g)  # float32; exactly representable in float64
    log_tau = torch.full((DIM,), math.log(TAU))
    with torch.no_grad():
        pair = sampler.forward(velocity, z, log_tau)
        z_back = sampler.inverse(velocity, pair, log_tau)
        lp32 = sampler.log_prob(velocity, pair, log_tau)
        lp64 = sampler.log_prob_of_latent(z.double(), log_tau.double())
        noise_gain = None
        if init == "pretrained":  # RMS spread of x_N caused by the history noise, per unit tau (float64)
            z64 = z[:1024].double()  # 1024 samples are plenty for an RMS, and keep the script fast
            quiet = z64.clone()
            quiet[:, 1] = 0.0
            lt64 = log_tau.double()
            spread = sampler.forward(velocity, z64, lt64)[:, 1] - sampler.forward(velocity, quiet, lt64)[:, 1]
            noise_gain = (spread.pow(2).mean().sqrt() / TAU).item()
    finite = bool(torch.isfinite(z_back).all() and torch.isfinite(lp32).all())
    err = (z_back.double() - z.double()).abs()
    return {
        "field": field,
        "init": init,
        "num_steps": n,
        "sigma": sigma,
        "inverse_gain": sampler.inverse_gain,
        "refused_by_default": refused,
        "max_abs_latent_error": err.max().item() if finite else float("inf"),
        "max_abs_latent_error_x0": err[:, 0].max().item() if finite else float("inf"),
        "max_abs_delta_log_p": (lp32.double() - lp64).abs().max().item() if finite else float("inf"),
        "history_noise_gain": noise_gain,
    }


def fmt(x: float) -> str:
    return "inf/nan" if not math.isfinite(x) else f"{x:.1e}"


def main() -> None:
    torch.set_num_threads(min(2, torch.get_num_threads()))
    start = time.time()
    rows = [measure(f, i, n, s) for f in FIELDS for i in INITS for n in STEPS for s in SIGMAS]
    elapsed = time.time() - start
    meta = {
        "dtype": "float32",
        "device": "cpu",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_threads": torch.get_num_threads(),
        "dim": DIM,
        "batch": BATCH,
        "tau": TAU,
        "stiff_eps": STIFF_EPS,
        "coefficient": "consistent",
        "default_max_inverse_gain": 100.0,
        "seconds": round(elapsed, 2),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")

    print(f"float32 CPU, torch {torch.__version__}, D={DIM}, {BATCH} samples, tau={TAU} (init B), "
          f"consistent coefficient, {elapsed:.1f} s\n")
    for field in FIELDS:
        for init in INITS:
            label = "B pretrained, tau=0.05" if init == "pretrained" else "A independent"
            print(f"### field `{field}`, init {label}\n")
            gain_col = init == "pretrained"
            print("| N | sigma | sigma^-steps | default guard | max abs(z - F^-1(F(z))) | max abs(delta log p) |"
                  + (" history-noise gain |" if gain_col else ""))
            print("|---:|---:|---:|:---|---:|---:|" + ("---:|" if gain_col else ""))
            for r in rows:
                if r["field"] == field and r["init"] == init:
                    guard = "REFUSED" if r["refused_by_default"] else "ok"
                    print(f"| {r['num_steps']} | {r['sigma']} | {r['inverse_gain']:.3g} | {guard} | "
                          f"{fmt(r['max_abs_latent_error'])} | {fmt(r['max_abs_delta_log_p'])} |"
                          + (f" {r['history_noise_gain']:.2f} |" if gain_col else ""))
            print()
    print(f"JSON written to {OUT}")


if __name__ == "__main__":
    main()
