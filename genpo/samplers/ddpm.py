"""DDPM / DDIM denoising chains with Gaussian transitions (DPPO, baselines.md), epsilon prediction.

The schedule tables (betas, alphas_cumprod, DDIM timesteps) come from diffusers' DDPMScheduler /
DDIMScheduler; the per-step Gaussian follows DPPO's public code:

    x0_hat = (x_k - sqrt(1 - ab_k) eps_hat) / sqrt(ab_k),   clipped to +-x0_clip
    DDPM : mean = c1_k x0_hat + c2_k x_k,  var = beta_k (1 - ab_{k-1}) / (1 - ab_k)   (posterior q(x_{k-1}|x_k, x0))
    DDIM : eps_hat re-derived from the clipped x0_hat (DPPO; diffusers' use_clipped_model_output=True),
           sigma = eta sqrt((1 - ab_prev) / (1 - ab_k) (1 - ab_k / ab_prev)),
           mean = sqrt(ab_prev) x0_hat + sqrt(1 - ab_prev - sigma^2) eps_hat,  var = sigma^2
    x_prev = mean + max(std, min_sampling_std) * clip(eps, +-noise_clip);   last state clipped to +-final_clip
    log-prob of a transition: N(x_prev; mean, max(std, min_logprob_std)^2), per action entry.

Chain index i = 0 .. S-1 runs from the noisiest step to the last; timesteps[i] is its DDPM timestep
k; the network is evaluated at t = k / num_train_timesteps. The latent is (B, S + 1, D):
x_T = latent[:, 0] (not clipped, as DPPO) and the step noises latent[:, 1:].
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from genpo.samplers.base import SampleOutput, Sampler, normal_log_density

EpsFn = Callable[[Tensor, int], Tensor]
"""eps_hat(x, i): the noise prediction at chain step i."""


def diffusers_schedulers(num_train_timesteps: int, beta_schedule: str):
    """The diffusers schedulers the tables are read from (DPPO's cosine schedule = squaredcos_cap_v2)."""
    from diffusers import DDIMScheduler, DDPMScheduler

    ddpm = DDPMScheduler(num_train_timesteps=num_train_timesteps, beta_schedule=beta_schedule, clip_sample=False,
                         variance_type="fixed_small", prediction_type="epsilon")
    # DPPO's DDIM: "leading" spacing (t = arange(S) * T // S), alpha_prev = 1 after the last step.
    ddim = DDIMScheduler(num_train_timesteps=num_train_timesteps, beta_schedule=beta_schedule, clip_sample=False,
                         set_alpha_to_one=True, steps_offset=0, timestep_spacing="leading", prediction_type="epsilon")
    return ddpm, ddim


class DenoisingSampler(Sampler):
    """DDPM (ddim_steps=0: every trained timestep) or DDIM (ddim_steps > 0, eta) Gaussian chain.

    With ft_denoising_steps = m > 0 only the last m transitions are stored and scored (DPPO): `split`
    = S - m is the first chain step that uses the fine-tuned network (0: all of them)."""

    def __init__(self, num_train_timesteps: int = 20, beta_schedule: str = "squaredcos_cap_v2", ddim_steps: int = 0,
                 eta: float = 1.0, x0_clip: float = 1.0, noise_clip: float = 3.0, final_clip: float = 0.0,
                 min_sampling_std: float = 0.1, min_logprob_std: float = 0.1, ft_denoising_steps: int = 0):
        ddpm, ddim = diffusers_schedulers(num_train_timesteps, beta_schedule)
        T = num_train_timesteps
        self.num_train_timesteps, self.ddim, self.eta = T, ddim_steps > 0, eta
        self.x0_clip, self.noise_clip, self.final_clip = x0_clip, noise_clip, final_clip
        self.min_sampling_std, self.min_logprob_std = min_sampling_std, min_logprob_std
        betas = ddpm.betas.to(torch.float64)
        self.alphas_cumprod = ddpm.alphas_cumprod.to(torch.float64)
        if self.ddim:
            if not 1 <= ddim_steps <= T:
                raise ValueError(f"ddim_steps must lie in [1, {T}], got {ddim_steps}")
            ddim.set_timesteps(ddim_steps)
            self.timesteps = [int(k) for k in ddim.timesteps]
            ratio = T // ddim_steps
            prev = [k - ratio for k in self.timesteps]
        else:
            self.timesteps = list(range(T - 1, -1, -1))
            prev = [k - 1 for k in self.timesteps]
        ab = self.alphas_cumprod[self.timesteps]
        ab_prev = torch.stack([self.alphas_cumprod[p] if p >= 0 else torch.ones((), dtype=torch.float64) for p in prev])
        self.ab, self.ab_prev = ab, ab_prev
        if self.ddim:
            sigma = (eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).sqrt()).clamp(min=1e-10)
            self.std = sigma
            self.dir_coef = (1 - ab_prev - sigma**2).clamp(min=0).sqrt()
            self.dir_coef_deterministic = (1 - ab_prev).sqrt()  # eta = 0: DPPO's deterministic DDIM
        else:
            beta = betas[self.timesteps]
            self.coef_x0 = beta * ab_prev.sqrt() / (1 - ab)
            self.coef_xt = (1 - ab_prev) * (1 - beta).sqrt() / (1 - ab)
            self.std = (0.5 * (beta * (1 - ab_prev) / (1 - ab)).clamp(min=1e-20).log()).exp()
        self.num_steps = len(self.timesteps)
        if not 0 <= ft_denoising_steps <= self.num_steps:
            raise ValueError(f"ft_denoising_steps must lie in [0, {self.num_steps}], got {ft_denoising_steps}")
        self.split = 0 if ft_denoising_steps in (0, self.num_steps) else self.num_steps - ft_denoising_steps

    @classmethod
    def from_config(cls, d) -> DenoisingSampler:
        """From a genpo.policies.diffusion.DiffusionConfig."""
        return cls(d.num_train_timesteps, d.beta_schedule, d.ddim_steps, d.eta, d.x0_clip, d.noise_clip, d.final_clip,
                   d.min_sampling_std, d.min_logprob_std, d.ft_denoising_steps)

    def latent_shape(self, batch: int, dim: int) -> tuple[int, ...]:
        return (batch, self.num_steps + 1, dim)

    def time(self, i: int, like: Tensor) -> Tensor:
        """Network time input of chain step i, (B,)."""
        return torch.full((like.shape[0],), self.timesteps[i] / self.num_train_timesteps, dtype=like.dtype, device=like.device)

    # ---- one transition -------------------------------------------------------------------
    def x0_hat(self, eps: Tensor, x: Tensor, i: int) -> Tensor:
        a = self.ab[i].to(x)
        x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
        return x0.clamp(-self.x0_clip, self.x0_clip) if self.x0_clip > 0 else x0

    def mean_std(self, eps: Tensor, x: Tensor, i: int, deterministic: bool = False) -> tuple[Tensor, Tensor]:
        """Mean of x_prev and the schedule's std (before any minimum) of transition i. deterministic: the
        DDIM mean with eta = 0 (DDPM: the same mean; the caller adds no noise)."""
        x0 = self.x0_hat(eps, x, i)
        if self.ddim:
            a, a_prev = self.ab[i].to(x), self.ab_prev[i].to(x)
            if self.x0_clip > 0:  # DPPO re-derives eps from the clipped x0 (diffusers: use_clipped_model_output)
                eps = (x - a.sqrt() * x0) / (1 - a).sqrt()
            direction = self.dir_coef_deterministic if deterministic else self.dir_coef
            mean = a_prev.sqrt() * x0 + direction[i].to(x) * eps
        else:
            mean = self.coef_x0[i].to(x) * x0 + self.coef_xt[i].to(x) * x
        return mean, self.std[i].to(x).expand_as(mean)

    # ---- chains -----------------------------------------------------------------------------
    def sample(self, eps_fn: EpsFn, latent: Tensor, *, deterministic: bool = False) -> SampleOutput:
        """Run the chain. stored: the states from the input of step `split` to the action (B, S - split + 1, D);
        log_prob: per-entry log-probs (B, S - split, D) of the stored transitions. deterministic: no noise at
        any step and DDIM with eta = 0 (x_T from the latent as given)."""
        store_from = self.split
        x = latent[:, 0]
        states, log_probs = [], []
        for i in range(self.num_steps):
            if i == store_from:
                states.append(x)
            mean, std = self.mean_std(eps_fn(x, i), x, i, deterministic)
            if deterministic:
                x = mean
            else:
                noise = latent[:, i + 1]
                if self.noise_clip > 0:
                    noise = noise.clamp(-self.noise_clip, self.noise_clip)
                x = mean + std.clamp(min=self.min_sampling_std) * noise
            if i == self.num_steps - 1 and self.final_clip > 0:
                x = x.clamp(-self.final_clip, self.final_clip)
            if i >= store_from:
                states.append(x)
                log_probs.append(self.entry_log_prob(x, mean, std))
        return SampleOutput(x, torch.stack(states, dim=1), latent, torch.stack(log_probs, dim=1))

    def entry_log_prob(self, x_prev: Tensor, mean: Tensor, std: Tensor) -> Tensor:
        """log N(x_prev; mean, max(std, min_logprob_std)^2) per entry."""
        return normal_log_density(x_prev, mean, std.clamp(min=self.min_logprob_std))

    def log_prob(self, eps_fn: EpsFn, chain: Tensor) -> Tensor:
        """Per-entry log-probs (B, n, D) of the n = chain.shape[1] - 1 stored transitions (from step `split`)."""
        out = []
        for j in range(chain.shape[1] - 1):
            i = self.split + j
            x = chain[:, j]
            mean, std = self.mean_std(eps_fn(x, i), x, i)
            out.append(self.entry_log_prob(chain[:, j + 1], mean, std))
        return torch.stack(out, dim=1)

    # ---- training --------------------------------------------------------------------------
    def add_noise(self, x0: Tensor, noise: Tensor, k: Tensor) -> Tensor:
        """x_k = sqrt(ab_k) x0 + sqrt(1 - ab_k) noise (diffusers' add_noise)."""
        a = self.alphas_cumprod.to(x0.device)[k].to(x0.dtype)[:, None]
        return a.sqrt() * x0 + (1 - a).sqrt() * noise
