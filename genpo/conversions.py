"""Pretrained networks as velocity fields v(x, s, t) in genpo's convention (t = 0 noise, t = 1 action),
the maths of genpopp.md §6 apart from any checkpoint I/O (genpo.lerobot.diffusion reads and writes the
LeRobot directories these networks come from).

- rectified flow in our convention: the network as is;
- reversed time (pi0 / SmolVLA, diffusers FlowMatchEulerDiscreteScheduler: x_s = s noise + (1 - s) data,
  network output = noise - data): ReversedTimeVelocity, v(x, t) = -model(x, s = 1 - t);
- DDPM / DDIM epsilon (or sample) prediction: DDIMVelocity, below.
Normalisation stays outside the velocity: the density lives in the normalised action space,
unnormalisation is post-processing (FlowPolicy.to_env_actions).

DDIMVelocity
============
With x_k = a_k x0 + b_k eps (a = sqrt(alphabar), b = sqrt(1 - alphabar)), rescaled coordinates
y = x / (a + b) and flow time t = a / (a + b) turn the deterministic DDIM step into an Euler step:
y = t x0 + (1 - t) eps, v = x0_hat - eps_hat. The network is evaluated only at its trained timesteps:
the time grid is the DDIM sub-sequence k_0 > k_1 > ... > k_{N-1} (diffusers' "leading" spacing, as
LeRobot's DDIMScheduler uses), one grid point per network evaluation.

The grid's two ends (what we do, and why)
-----------------------------------------
DDIM starts from pure noise z ~ N(0, I) but feeds it to the network as if it were x at its first
timestep k_0 (whose alphabar is small but not 0, so t(k_0) > 0), and its last step lands on
alphabar_final (1 with diffusers' set_alpha_to_one, the LeRobot default; alphas_cumprod[0] < 1
otherwise). We keep the sampler's grid exactly on [0, 1] and map coordinates at the ends:

    grid point i      t_i                    state y_i        network sees x = s_i y_i
    0                 0                      z (pure noise)   s_0 = 1  (exactly what DDIM does)
    1 .. N-1          a_i / (a_i + b_i)      x_i / (a_i+b_i)  s_i = a_i + b_i
    N                 1                      DDIM's output    s_N = 1  (the action itself)

and define the velocity at grid point i as the exact DDIM step in these coordinates:

    v(y, t_i) = (x_{i+1} / s_{i+1} - y) / (t_{i+1} - t_i),   x_{i+1} = a_{i+1} x0c + b_{i+1} eps_hat,

with x0c = clip(x0_hat) when the policy clips samples (LeRobot default: clip to [-1, 1]) and eps_hat
the network's (unclipped) noise estimate, as diffusers' DDIMScheduler.step does. At interior points
with the clip inactive this is exactly x0_hat - eps_hat (the §6 formula); at the end points and where
the clip is active it adds what DDIM adds. So the Euler sampler on this grid IS LeRobot's DDIM sampler
(tests: float64 agreement ~1e-13), the latent is DDIM's own initial noise, and the density of the
executed action lives in LeRobot's normalised action space. Because v depends on the grid, the
module only accepts times on its configured grid (`time_grid(num_steps)`), and refuses others.

Grid labels (`grid=`): the velocity is defined as the exact DDIM step divided by the grid spacing, so
the Euler sampler reproduces DDIM whatever increasing labels the N + 1 points carry; the labels only
change how GenPO++'s two-step sampler (c_i = h_i + sigma h_{i-1}) behaves. "ddim" (default): the §6
times above. "ddim_start": t_0 = t(k_0) instead of 0 (the grid then starts inside (0, 1); the samplers
accept any increasing grid in [0, 1]). "uniform": t_i = i / N, i.e. the same flow in a reparametrised
time (velocity scaled by dt/dtau); most uniform step ratios, so the least history-noise amplification
with the consistent coefficient.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

GRIDS = ("ddim", "ddim_start", "uniform")
SCHEDULER_KEYS = ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "clip_sample",
                  "clip_sample_range", "prediction_type")


def follow_parameter_dtype(unet: nn.Module) -> nn.Module:
    """Let a LeRobot Diffusion U-Net run in float64 (tests): its sinusoidal timestep embedding always
    computes in float32; cast its output to the parameters' dtype (a no-op in float32). Idempotent."""
    encoder = getattr(unet, "diffusion_step_encoder", None)
    if encoder is not None and not getattr(encoder, "_genpo_dtype_hook", False):
        encoder[0].register_forward_hook(lambda module, args, out: out.to(next(unet.parameters()).dtype))
        encoder._genpo_dtype_hook = True
    return unet


@dataclass
class _GridPoint:
    label: int  # the trained timestep the network is evaluated at
    t: float  # flow time of this grid point
    scale: float  # x = scale * y at this point
    a: float  # sqrt(alphabar) of the evaluation timestep
    b: float  # sqrt(1 - alphabar)
    a_next: float  # DDIM's target coefficients of the step
    b_next: float
    scale_next: float
    t_next: float


class DDIMVelocity(nn.Module):
    """v(y, obs, t) of a LeRobot Diffusion U-Net, on the DDIM grid (see the module docstring).

    `unet(x (B, H, d), timesteps (B,) long, global_cond=(B, C)) -> (B, H, d)`; obs is the global
    conditioning vector LeRobot builds (normalised [state, env_state] per observation step, flattened).
    """

    def __init__(self, unet: nn.Module, scheduler: dict, horizon: int, action_dim: int, grid: str = "ddim"):
        super().__init__()
        if grid not in GRIDS:
            raise ValueError(f"diffusion grid must be one of {GRIDS}, got {grid!r}")
        self.grid = grid
        from diffusers.schedulers.scheduling_ddim import DDIMScheduler

        self.unet = unet
        follow_parameter_dtype(unet)
        self.horizon, self.action_dim = horizon, action_dim
        self.scheduler_config = {k: scheduler[k] for k in SCHEDULER_KEYS}
        if self.scheduler_config["prediction_type"] not in ("epsilon", "sample"):
            raise ValueError(
                f"prediction_type {self.scheduler_config['prediction_type']!r}: only 'epsilon' and 'sample' are supported"
            )
        self.scheduler = DDIMScheduler(**self.scheduler_config)
        self.points: list[_GridPoint] = []

    # ---- the grid --------------------------------------------------------------------------
    def time_grid(self, num_steps: int) -> list[float]:
        """Configure the module for `num_steps` DDIM steps and return the flow-time grid (N + 1 points)."""
        sched = self.scheduler
        T = sched.config.num_train_timesteps
        if not 1 <= num_steps <= T:
            raise ValueError(f"a DDIM grid needs 1 <= num_steps <= num_train_timesteps = {T}, got {num_steps}")
        sched.set_timesteps(num_steps)
        labels = [int(k) for k in sched.timesteps]
        ratio = T // num_steps

        def coefficients(alphabar: Tensor) -> tuple[float, float]:  # float32, as diffusers' DDIM step
            alphabar = alphabar.to(torch.float32)
            return float(alphabar**0.5), float((1 - alphabar) ** 0.5)

        evals = [coefficients(sched.alphas_cumprod[k]) for k in labels]
        scales = [1.0] + [a + b for a, b in evals[1:]] + [1.0]
        if self.grid == "ddim":
            times = [0.0] + [a / (a + b) for a, b in evals[1:]] + [1.0]
        elif self.grid == "ddim_start":
            times = [a / (a + b) for a, b in evals] + [1.0]
        else:
            times = [i / num_steps for i in range(num_steps + 1)]
        points = []
        for i, k in enumerate(labels):
            prev = k - ratio  # diffusers: prev_timestep = timestep - T // num_inference_steps
            if i + 1 < num_steps and prev != labels[i + 1]:
                raise ValueError(
                    f"DDIM timesteps {labels} are not evenly spaced by {ratio}; unsupported timestep spacing"
                )
            target = sched.alphas_cumprod[prev] if prev >= 0 else sched.final_alpha_cumprod
            a_next, b_next = coefficients(target)
            points.append(_GridPoint(k, times[i], scales[i], *evals[i], a_next, b_next, scales[i + 1], times[i + 1]))
        if any(t1 <= t0 for t0, t1 in zip(times, times[1:])):
            raise ValueError(f"DDIM grid is not increasing in flow time: {times}")
        self.points = points
        return times

    def _point(self, t: Tensor) -> _GridPoint:
        if not self.points:
            raise RuntimeError(
                "DDIMVelocity has no grid: call time_grid(num_steps) first (FlowPolicy.set_sampler does)"
            )
        value = float(t.reshape(-1)[0])
        best = min(self.points, key=lambda p: abs(p.t - value))
        if abs(best.t - value) > 1e-6:
            raise ValueError(
                f"a converted diffusion network is evaluated only at its trained timesteps: t={value:.8f} "
                f"is not on its DDIM grid {[round(p.t, 6) for p in self.points]}"
            )
        return best

    # ---- the velocity ----------------------------------------------------------------------
    def forward(self, y: Tensor, obs: Tensor, t: Tensor) -> Tensor:
        p = self._point(t)
        x = (p.scale * y).reshape(-1, self.horizon, self.action_dim)
        timesteps = torch.full((x.shape[0],), p.label, dtype=torch.long, device=x.device)
        out = self.unet(x, timesteps, global_cond=obs)
        cfg = self.scheduler_config
        if cfg["prediction_type"] == "epsilon":
            eps, x0 = out, (x - p.b * out) / p.a
        else:
            x0, eps = out, (x - p.a * out) / p.b
        if cfg["clip_sample"]:
            x0 = x0.clamp(-cfg["clip_sample_range"], cfg["clip_sample_range"])
        y_next = (p.a_next * x0 + p.b_next * eps) / p.scale_next
        return (y_next.flatten(1) - y) / (p.t_next - p.t)


class ReversedTimeVelocity(nn.Module):
    """A network in the reversed-time convention (s = 1 noise, s = 0 data, output noise - data) as a
    velocity in ours: v(x, obs, t) = -model(x, obs, 1 - t). Differentiable: gradients reach `model`
    through every sampler step, as fine-tuning needs."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, obs: Tensor, t: Tensor) -> Tensor:
        return -self.model(x, obs, 1 - t)
