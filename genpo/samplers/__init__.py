"""Samplers: pure, batched tensor maps from a standard-normal latent to an action (genpo.samplers.base).

The flow policy's samplers are built from one `SamplerConfig` through the name table FLOW_SAMPLERS
(kind -> class with `from_config(cfg)`); adding one is a file implementing `Sampler` plus a line
there (README, "How to add a sampler"). ReinFlow's noisy chain and DPPO's denoising chain are built
by their algorithm and policy from their own configs.
"""

from __future__ import annotations

from dataclasses import dataclass

from genpo.samplers.base import (
    LOG_2PI,
    SampleOutput,
    Sampler,
    VelocityFn,
    normal_log_density,
    standard_normal_log_prob,
    time_grid,
)
from genpo.samplers.ddpm import DenoisingSampler
from genpo.samplers.euler import EulerSampler
from genpo.samplers.noisy_euler import NoisyEulerSampler
from genpo.samplers.reversible import ReversibleSampler


@dataclass
class SamplerConfig:
    """How a flow policy samples (stored in its config.json under "sampler")."""

    kind: str = "euler"  # a FLOW_SAMPLERS name: euler (deterministic ODE) | reversible (GenPO++)
    num_steps: int = 10  # N network evaluations per action chunk
    sigma: float = 0.9  # reversible: history coefficient
    init: str = "pretrained"  # reversible: pretrained (B, Euler start + tau) | independent (A)
    coefficient: str = "consistent"  # reversible: c_i = h_i + sigma h_{i-1} | dt (c_i = h_i)
    tau: float = 0.05  # reversible init B: history noise, normalised action units
    learn_tau: bool = False  # learn log tau (per dimension) during fine-tuning
    base_std: float = 1.0  # reversible: std of the flow's noise x_0 in the base density (1: the paper)
    grid: list[float] | None = None  # time grid t_0 = 0 < ... < t_N = 1; uniform if None


FLOW_SAMPLERS: dict[str, type[Sampler]] = {
    "euler": EulerSampler,
    "reversible": ReversibleSampler,
}


def build_sampler(cfg: SamplerConfig) -> Sampler:
    """The flow sampler named by cfg.kind."""
    if cfg.kind not in FLOW_SAMPLERS:
        raise ValueError(f"unknown sampler kind {cfg.kind!r}; choose one of: {', '.join(sorted(FLOW_SAMPLERS))}")
    return FLOW_SAMPLERS[cfg.kind].from_config(cfg)


__all__ = ["FLOW_SAMPLERS", "LOG_2PI", "DenoisingSampler", "EulerSampler", "NoisyEulerSampler", "ReversibleSampler",
           "SampleOutput", "Sampler", "SamplerConfig", "VelocityFn", "build_sampler", "normal_log_density",
           "standard_normal_log_prob", "time_grid"]
