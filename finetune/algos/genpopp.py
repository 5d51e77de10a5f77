"""GenPO++: PPO on the exact likelihood of the reversible sampler's pair (genpopp.md §2-§4).

Stores the pair y = (x_{N-1}, x_N) per sample; log r = log p0(F^{-1}_theta(y)) - log p0(F^{-1}_old(y)).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from finetune.algos.base import Act, Algorithm
from genpo.config import Allowed, above, at_least, between, one_of
from genpo.policies import FlowPolicy
from genpo.samplers import SamplerConfig


@dataclass
class GenPOppConfig:
    num_steps: int = 0  # N flow steps; 0 keeps the checkpoint's
    sigma: float = 0.7  # history coefficient; 0.7 keeps the pretrained policy best of those measured (docs/conversion.md)
    init: str = "auto"  # pretrained (B) | independent (A, GenPO-style) | auto: B for a checkpoint, A from scratch
    coefficient: str = "consistent"  # consistent | dt
    action_noise: float = 0.08  # calibrate tau so the std of x_N caused by the history noise is this
    tau: float = 0.0  # > 0: use this tau instead of calibrating
    learn_tau: bool = False
    base_std: float = 0.3  # std of the flow's own noise x_0 when sampling (exact density; 1 = the paper); < 1 explores
    # nearer the zero-sampling path (measured: the only setting that raised zero sampling, benchmarks/results/trust_region)
    # Before RL (init B on a checkpoint): distil the velocity network so that the reversible sampler at z = 0
    # reproduces the checkpoint's own sampler's actions on the start observations (MSE, Adam); 0 disables.
    distill_steps: int = 300
    distill_lr: float = 1e-4
    distill_batch: int = 256

    ALLOWED: ClassVar[dict[str, Allowed]] = {
        "num_steps": at_least(0), "sigma": between(0, 1, low_open=True), "init": one_of("auto", "pretrained", "independent"),
        "coefficient": one_of("consistent", "dt"), "action_noise": above(0), "tau": at_least(0),
        "distill_steps": at_least(0), "distill_lr": above(0), "distill_batch": at_least(1), "base_std": above(0),
    }


CALIBRATION_OBSERVATIONS = 4096  # observations the tau calibration averages over


@torch.no_grad()
def history_noise_gain(policy: FlowPolicy, obs: Tensor, probe_tau: float = 1e-3) -> Tensor:
    """Per-dimension spread of x_N per unit tau, measured at fixed x_0 on `obs` (linear for small tau).

    Near t = 1 a stiff pretrained flow amplifies history noise (genpopp.md §5), so tau is
    calibrated against the measured gain rather than set to the target spread directly.
    """
    log_tau = policy.sampler_params()["log_tau"]
    saved_log_tau = log_tau.detach().clone()
    log_tau.fill_(math.log(probe_tau))
    latent = policy.latent(obs.shape[0]).to(obs.dtype)
    without_history_noise = latent.clone()
    without_history_noise[:, 1] = 0.0
    spread = policy.sample(obs, latent).sample.action - policy.sample(obs, without_history_noise).sample.action
    log_tau.copy_(saved_log_tau)
    return (spread.std(0) / probe_tau).clamp_min(1e-3)


class GenPOpp(Algorithm):
    name = "genpopp"
    config_class = GenPOppConfig

    def __init__(self, policy: FlowPolicy, cfg: GenPOppConfig):
        if cfg.init == "auto":  # B for a pretrained checkpoint, A for a network trained from scratch (GenPO)
            cfg = dataclasses.replace(cfg, init="pretrained" if policy.pretrained else "independent")
        super().__init__(policy, cfg)
        num_steps = cfg.num_steps or policy.config.sampler.num_steps
        tau = cfg.tau if cfg.tau > 0 else 1.0
        self.own_sampler = policy.config.sampler  # the checkpoint's own (deterministic) sampler: the distillation target
        policy.set_sampler(SamplerConfig(kind="reversible", num_steps=num_steps, sigma=cfg.sigma, init=cfg.init,
                                         coefficient=cfg.coefficient, tau=tau, learn_tau=cfg.learn_tau,
                                         base_std=cfg.base_std))

    def prepare(self, obs: Tensor) -> None:
        """On a checkpoint (init B): distil the velocity network to the reversible sampler (distill_steps), then,
        with tau=0, calibrate tau so the history noise moves x_N by action_noise (per dimension)."""
        if self.cfg.init != "pretrained":
            return
        if self.policy.pretrained and self.cfg.distill_steps > 0 and self.own_sampler.kind != "reversible":
            self.distill(obs)
        if self.cfg.tau <= 0:
            gain = history_noise_gain(self.policy, obs[:CALIBRATION_OBSERVATIONS])
            with torch.no_grad():
                self.policy.sampler_params()["log_tau"].copy_(torch.log(self.cfg.action_noise / gain))

    def distill(self, obs: Tensor) -> None:
        """min over the velocity network of E ||x_N(reversible, z = 0) - x_N(own sampler, z = 0)||^2 on `obs`: the
        two-step recursion integrates the flow with another error than the checkpoint's sampler (measured: Hopper
        medium 1860 -> 1659 zero-sampling return before, 1789 after 300 steps; docs/conversion.md)."""
        policy, cfg = self.policy, self.cfg
        reversible = policy.config.sampler
        policy.set_sampler(self.own_sampler)  # (a converted DDIM network re-reads its grid for each sampler)
        with torch.no_grad():
            target = policy.sample(obs, zero=True).sample.action
        policy.set_sampler(reversible)
        optimizer = torch.optim.Adam(policy.velocity_net.parameters(), lr=cfg.distill_lr)
        generator = torch.Generator().manual_seed(0)  # minibatch indices drawn on the CPU, on any device
        for _ in range(cfg.distill_steps):
            index = torch.randint(obs.shape[0], (min(cfg.distill_batch, obs.shape[0]),), generator=generator).to(obs.device)
            loss = (policy.sample(obs[index], zero=True).sample.action - target[index]).pow(2).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    def conversion_notes(self) -> list[str]:
        notes = []
        if self.policy.pretrained and self.cfg.coefficient == "dt":
            notes.append("genpopp.coefficient=dt on a pretrained checkpoint: c_i = h_i integrates the flow's ODE with the "
                         "wrong step (docs/genpopp.md §1), so the converted sampler drifts from the pretrained one; "
                         "use coefficient=consistent")
        if self.policy.pretrained and self.cfg.init == "independent":
            notes.append("genpopp.init=independent on a pretrained checkpoint: init A starts from an independent pair, "
                         "not the flow's Euler start (docs/genpopp.md §3), so it does not reproduce the pretrained policy; "
                         "use init=pretrained (or auto)")
        return notes

    @torch.no_grad()
    def act(self, obs: Tensor, generator: torch.Generator | None = None) -> Act:
        out = self.policy.sample(obs, generator=generator)
        return Act(out.env_actions, out.sample.stored, out.sample.log_prob)

    def log_prob(self, obs: Tensor, stored: Tensor) -> Tensor:
        return self.policy.log_prob(obs, stored)

    authors_protocol = "own"
    authors_protocol_text = "the ODE-from-noise reading: x_0 ~ N(0, I), no history noise (xi = 0)"

    @torch.no_grad()
    def act_authors(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The sampler as a deterministic map from unit noise, as ReinFlow evaluates its flow: x_0 ~ N(0, I) whatever
        base_std, xi = 0 (init B) or the pair's first entry 0 (init A)."""
        latent = self.policy.latent(obs.shape[0], zero=True).to(obs.dtype)
        noise = torch.randn(latent[:, 0].shape, generator=generator, device=latent.device, dtype=latent.dtype)
        latent[:, 0 if self.cfg.init == "pretrained" else 1] = noise
        return self.policy.sample(obs, latent).env_actions

    @torch.no_grad()
    def snapshot(self, obs: Tensor, stored: Tensor) -> dict:
        """At theta_old: z_old = F^{-1}(y) and the round-trip error max |F(F^{-1}(y)) - y|."""
        velocity, params = self.policy.velocity(obs), self.policy.sampler_params()
        latent = self.policy.sampler.inverse(velocity, stored, **params)
        roundtrip = (self.policy.sampler.forward(velocity, latent, **params) - stored).abs().max()
        return {"latent": latent, "roundtrip_error": roundtrip.item()}

    @torch.no_grad()
    def action_shift(self, obs: Tensor, stored: Tensor, snapshot: dict) -> Tensor:
        """x_N now minus x_N at theta_old, at the same latents z_old: (B, D), normalised units."""
        policy = self.policy
        pair_new = policy.sampler.forward(policy.velocity(obs), snapshot["latent"], **policy.sampler_params())
        return pair_new[:, 1] - stored[:, 1]

    @torch.no_grad()
    def action_kl(self, obs: Tensor, stored: Tensor, snapshot: dict) -> float:
        """KL between N(x_N(theta), s^2 I) and N(x_N(theta_old), s^2 I) at the same latents, s = genpopp.action_noise
        (the exploration spread of x_N): mean over samples of |shift|^2 / (2 s^2). Unlike the pair KL, it does not
        grow with 1 / tau^2 and the inverse's gain: it measures how far the executed action moved, in units of
        the exploration noise."""
        shift = self.action_shift(obs, stored, snapshot)
        return (shift.pow(2).sum(-1) / (2 * self.cfg.action_noise**2)).mean().item()

    @torch.no_grad()
    def diagnostics(self, obs: Tensor, stored: Tensor, snapshot: dict) -> dict[str, float]:
        """Round-trip error, action drift ||F_theta(z_old)_N - x_N|| at fixed noise, action-level KL, tau."""
        policy = self.policy
        shift = self.action_shift(obs, stored, snapshot)
        out = {"genpopp/pair_roundtrip_error": snapshot["roundtrip_error"],
               "genpopp/action_drift": shift.norm(dim=-1).mean().item(),
               "genpopp/action_kl": (shift.pow(2).sum(-1) / (2 * self.cfg.action_noise**2)).mean().item()}
        if "log_tau" in policy.sampler_params():
            log_tau = policy.sampler_params()["log_tau"]
            out["genpopp/sum_log_tau"] = log_tau.sum().item()
            out["genpopp/tau_mean"] = log_tau.exp().mean().item()
        return out
