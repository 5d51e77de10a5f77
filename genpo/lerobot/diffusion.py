"""LeRobot Diffusion Policy (DDPM/DDIM, epsilon or sample prediction) as a flow policy (genpopp.md §6).

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

import json
from dataclasses import dataclass
from pathlib import Path

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
            raise ValueError(f"prediction_type {self.scheduler_config['prediction_type']!r}: only 'epsilon' and 'sample' are supported")
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
            return float(alphabar ** 0.5), float((1 - alphabar) ** 0.5)

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
                raise ValueError(f"DDIM timesteps {labels} are not evenly spaced by {ratio}; unsupported timestep spacing")
            target = sched.alphas_cumprod[prev] if prev >= 0 else sched.final_alpha_cumprod
            a_next, b_next = coefficients(target)
            points.append(_GridPoint(k, times[i], scales[i], *evals[i], a_next, b_next, scales[i + 1], times[i + 1]))
        if any(t1 <= t0 for t0, t1 in zip(times, times[1:])):
            raise ValueError(f"DDIM grid is not increasing in flow time: {times}")
        self.points = points
        return times

    def _point(self, t: Tensor) -> _GridPoint:
        if not self.points:
            raise RuntimeError("DDIMVelocity has no grid: call time_grid(num_steps) first (FlowPolicy.set_sampler does)")
        value = float(t.reshape(-1)[0])
        best = min(self.points, key=lambda p: abs(p.t - value))
        if abs(best.t - value) > 1e-6:
            raise ValueError(f"a converted diffusion network is evaluated only at its trained timesteps: t={value:.8f} "
                             f"is not on its DDIM grid {[round(p.t, 6) for p in self.points]}")
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


# ---- loading and exporting LeRobot Diffusion checkpoints -----------------------------------------
SAMPLER_FILE = "genpo_sampler.json"


def check_state_only(config: dict, directory: Path) -> None:
    visual = [k for k, ft in (config.get("input_features") or {}).items() if ft.get("type") == "VISUAL"]
    if visual:
        raise ValueError(f"{directory}: this checkpoint needs camera images ({', '.join(visual)}); "
                         f"genpo fine-tunes state-observation policies only")


def load_lerobot_diffusion(directory: Path, config: dict, *, obs_dim: int | None, action_dim: int | None,
                           num_steps: int | None, grid: str | None = None):
    """A LeRobot Diffusion Policy directory -> (ConvertedFlowPolicy, description)."""
    from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig
    from lerobot.policies.diffusion.modeling_diffusion import DiffusionConditionalUnet1d
    from safetensors.torch import load_file

    from genpo.lerobot.converted import ConvertedFlowPolicy, lerobot_normalizers
    from genpo.policy import FlowPolicyConfig, SamplerConfig

    check_state_only(config, directory)
    features = config["input_features"]
    state_keys = [k for k, ft in features.items() if ft["type"] == "STATE"]
    env_keys = [k for k, ft in features.items() if ft["type"] == "ENV"]
    if state_keys != ["observation.state"] or len(env_keys) > 1:
        raise ValueError(f"{directory}: unsupported inputs {sorted(features)}; expected observation.state "
                         f"(+ observation.environment_state)")
    keys = state_keys + env_keys  # LeRobot's order: [state, env_state] per observation step
    per_step = sum(int(features[k]["shape"][0]) for k in keys)
    n_obs, horizon, n_action_steps = int(config["n_obs_steps"]), int(config["horizon"]), int(config["n_action_steps"])
    d = int(config["output_features"]["action"]["shape"][0])
    layout = " + ".join(f"{k} {features[k]['shape'][0]}" for k in keys)
    if action_dim is not None and action_dim != d:
        raise ValueError(f"checkpoint {directory} has action_dim={d}, but the env needs action_dim={action_dim}: "
                         f"pick a checkpoint trained for this task")
    if obs_dim is not None and obs_dim != n_obs * per_step:
        if n_obs > 1 and obs_dim == per_step:
            raise ValueError(f"checkpoint {directory} conditions on n_obs_steps={n_obs} consecutive observations "
                             f"({layout} each), but genpo's envs give one observation per step; fine-tune a policy "
                             f"trained with n_obs_steps=1, or stack the last {n_obs} observations in the env (obs_dim={n_obs * per_step})")
        raise ValueError(f"checkpoint {directory} observes {per_step} numbers per step ({layout}), but the env gives "
                         f"obs_dim={obs_dim}: pick a checkpoint trained for this task")
    if config.get("noise_scheduler_type", "DDPM") not in ("DDPM", "DDIM"):
        raise ValueError(f"unsupported noise_scheduler_type {config.get('noise_scheduler_type')!r}")

    # Build the LeRobot U-Net from its own config class (validates the config as LeRobot would).
    lr_config = DiffusionConfig(**_dataclass_kwargs(DiffusionConfig, config), device="cpu")
    global_cond_dim = per_step * n_obs
    unet = DiffusionConditionalUnet1d(lr_config, global_cond_dim=global_cond_dim)
    state = load_file(directory / "model.safetensors")
    prefix = "diffusion.unet."
    unet_state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    other = [k for k in state if not k.startswith(prefix)]
    if other:
        raise ValueError(f"{directory}/model.safetensors has weights outside the U-Net ({other[:3]}...): not a state-only diffusion policy")
    unet.load_state_dict(unet_state)
    saved_sampler = _read_sampler(directory)
    velocity = DDIMVelocity(unet, config, horizon, d, grid=grid or (saved_sampler[2] if saved_sampler else "ddim"))
    if saved_sampler is not None:
        sampler, log_tau, _ = saved_sampler
        if num_steps is not None:
            sampler.num_steps = num_steps
    else:
        steps = num_steps or (config.get("num_inference_steps") if config.get("noise_scheduler_type") == "DDIM" else None) or 10
        sampler, log_tau = SamplerConfig(kind="euler", num_steps=int(steps)), None
    flow_config = FlowPolicyConfig(obs_dim=global_cond_dim, action_dim=d, horizon=horizon, n_action_steps=n_action_steps,
                                   obs_norm="identity", action_norm="identity", sampler=sampler)
    obs_normalizer, action_normalizer = lerobot_normalizers(directory, keys, {**features, **config["output_features"]}, n_obs, d)
    policy = ConvertedFlowPolicy(flow_config, velocity, obs_normalizer, action_normalizer,
                                 first_action=n_obs - 1, source=directory, exporter=export_lerobot_diffusion)
    policy.lerobot_config = dict(config)
    policy.lerobot_files = {p.name: p.read_bytes() for p in directory.iterdir()
                            if p.is_file() and p.name.startswith(("policy_preprocessor", "policy_postprocessor"))}
    if log_tau is not None and policy.log_tau is not None:
        with torch.no_grad():
            policy.log_tau.copy_(log_tau)
    sched = config.get("noise_scheduler_type", "DDPM")
    description = (f"LeRobot Diffusion Policy from {directory} ({sched}-trained, {config['prediction_type']} prediction, "
                   f"{config['num_train_timesteps']} train timesteps, clip_sample={config['clip_sample']}), converted to a flow "
                   f"on the {flow_config.sampler.num_steps}-step DDIM grid ({velocity.grid!r} time labels); observes {layout}"
                   + (f" x {n_obs} steps" if n_obs > 1 else ""))
    return policy, description


def _dataclass_kwargs(cls, raw: dict) -> dict:
    """JSON config -> constructor kwargs (features as PolicyFeature, mappings as enums, tuples as tuples)."""
    import dataclasses

    from lerobot.configs.types import FeatureType, NormalizationMode, PolicyFeature

    names = {f.name for f in dataclasses.fields(cls) if f.init} - {"device"}
    out = {}
    for key, value in raw.items():
        if key not in names:
            continue
        if key in ("input_features", "output_features") and value is not None:
            value = {k: PolicyFeature(type=FeatureType(ft["type"]), shape=tuple(ft["shape"])) for k, ft in value.items()}
        elif key == "normalization_mapping":
            value = {k: NormalizationMode(v) for k, v in value.items()}
        elif isinstance(value, list):
            value = tuple(value)
        out[key] = value
    return out


def _read_sampler(directory: Path):
    from genpo.policy import SamplerConfig

    path = directory / SAMPLER_FILE
    if not path.is_file():
        return None
    raw = json.loads(path.read_text())
    log_tau, grid = raw.pop("log_tau", None), raw.pop("diffusion_grid", "ddim")
    known = set(SamplerConfig.__dataclass_fields__)
    sampler = SamplerConfig(**{k: v for k, v in raw.items() if k in known})
    return sampler, (None if log_tau is None else torch.tensor(log_tau)), grid


def export_lerobot_diffusion(policy, directory: Path) -> None:
    """Write a (fine-tuned) converted policy back as a LeRobot Diffusion Policy directory.

    config.json is the original one with noise_scheduler_type="DDIM" and num_inference_steps=N, so
    LeRobot's own sampler is our deterministic Euler sampler on the DDIM grid; the processor files are
    the original ones. genpo_sampler.json keeps the GenPO++ sampler (sigma, tau, learnt log tau) so that
    load_any_policy restores it; LeRobot ignores that file. A PushT policy on the split layout
    (datasets/pusht_split) also gets genpo.lerobot.pusht_processor.PushtBlockPoseStep in its preprocessor,
    so lerobot-eval on LeRobot's pusht env (environment_state_agent_pos) evaluates it.
    """
    from safetensors.torch import save_file

    config = dict(policy.lerobot_config)
    config.update(noise_scheduler_type="DDIM", num_inference_steps=policy.config.sampler.num_steps)
    (directory / "config.json").write_text(json.dumps(config, indent=4))
    state = {f"diffusion.unet.{k}": v.detach().to("cpu", torch.float32).contiguous()
             for k, v in policy.velocity_net.unet.state_dict().items()}
    save_file(state, directory / "model.safetensors", metadata={"format": "pt"})
    for name, data in policy.lerobot_files.items():
        (directory / name).write_bytes(data)
    from genpo.lerobot.pusht import add_block_pose_step, is_pusht_split_layout

    if is_pusht_split_layout(config) and (directory / "policy_preprocessor.json").is_file():
        add_block_pose_step(directory)  # lerobot-eval on LeRobot's pusht env (corners -> block pose); no-op on 3-d input
    import dataclasses

    sampler = dataclasses.asdict(policy.config.sampler) | {"diffusion_grid": policy.velocity_net.grid}
    if policy.log_tau is not None:
        sampler["log_tau"] = policy.log_tau.detach().cpu().double().tolist()
    (directory / SAMPLER_FILE).write_text(json.dumps(sampler, indent=2))
