"""LeRobot Diffusion Policy checkpoints (DDPM/DDIM, epsilon or sample prediction, state inputs) read as
genpo flow policies and written back (genpopp.md §6; the conversion maths: genpo.conversions.DDIMVelocity).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from genpo.conversions import DDIMVelocity
from genpo.samplers import SamplerConfig

# ---- loading and exporting LeRobot Diffusion checkpoints -----------------------------------------
SAMPLER_FILE = "genpo_sampler.json"


def check_state_only(config: dict, directory: Path) -> None:
    visual = [k for k, ft in (config.get("input_features") or {}).items() if ft.get("type") == "VISUAL"]
    if visual:
        raise ValueError(f"{directory}: this checkpoint needs camera images ({', '.join(visual)}); "
                         f"genpo fine-tunes state-observation policies only")


def load_lerobot_diffusion(directory: Path, config: dict, *, obs_dim: int | None, action_dim: int | None,
                           num_steps: int | None, grid: str | None = None):
    """A LeRobot Diffusion Policy directory (config.json already read) -> ConvertedFlowPolicy, with a
    `description` saying what it was converted from."""
    from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig
    from lerobot.policies.diffusion.modeling_diffusion import DiffusionConditionalUnet1d
    from safetensors.torch import load_file

    from genpo.lerobot.converted import ConvertedFlowPolicy, lerobot_normalizers
    from genpo.policies.flow import FlowPolicyConfig

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
            raise ValueError(
                f"checkpoint {directory} conditions on n_obs_steps={n_obs} consecutive observations "
                f"({layout} each), but genpo's envs give one observation per step; fine-tune a policy "
                f"trained with n_obs_steps=1, or stack the last {n_obs} observations in the env (obs_dim={n_obs * per_step})"
            )
        raise ValueError(
            f"checkpoint {directory} observes {per_step} numbers per step ({layout}), but the env gives "
            f"obs_dim={obs_dim}: pick a checkpoint trained for this task"
        )
    if config.get("noise_scheduler_type", "DDPM") not in ("DDPM", "DDIM"):
        raise ValueError(f"unsupported noise_scheduler_type {config.get('noise_scheduler_type')!r}")

    # Build the LeRobot U-Net from its own config class (validates the config as LeRobot would).
    lr_config = DiffusionConfig(**_dataclass_kwargs(DiffusionConfig, config), device="cpu")
    global_cond_dim = per_step * n_obs
    unet = DiffusionConditionalUnet1d(lr_config, global_cond_dim=global_cond_dim)
    state = load_file(directory / "model.safetensors")
    prefix = "diffusion.unet."
    unet_state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    other = [k for k in state if not k.startswith(prefix)]
    if other:
        raise ValueError(
            f"{directory}/model.safetensors has weights outside the U-Net ({other[:3]}...): not a state-only diffusion policy"
        )
    unet.load_state_dict(unet_state)
    saved_sampler = _read_sampler(directory)
    velocity = DDIMVelocity(unet, config, horizon, d, grid=grid or (saved_sampler[2] if saved_sampler else "ddim"))
    if saved_sampler is not None:
        sampler, log_tau, _ = saved_sampler
        if num_steps is not None:
            sampler.num_steps = num_steps
    else:
        steps = (
            num_steps
            or (config.get("num_inference_steps") if config.get("noise_scheduler_type") == "DDIM" else None)
            or 10
        )
        sampler, log_tau = SamplerConfig(kind="euler", num_steps=int(steps)), None
    flow_config = FlowPolicyConfig(
        obs_dim=global_cond_dim,
        action_dim=d,
        horizon=horizon,
        n_action_steps=n_action_steps,
        obs_norm="identity",
        action_norm="identity",
        sampler=sampler,
    )
    obs_normalizer, action_normalizer = lerobot_normalizers(
        directory, keys, {**features, **config["output_features"]}, n_obs, d
    )
    policy = ConvertedFlowPolicy(
        flow_config,
        velocity,
        obs_normalizer,
        action_normalizer,
        first_action=n_obs - 1,
        source=directory,
        exporter=export_lerobot_diffusion,
    )
    policy.lerobot_config = dict(config)
    policy.lerobot_files = {
        p.name: p.read_bytes()
        for p in directory.iterdir()
        if p.is_file() and p.name.startswith(("policy_preprocessor", "policy_postprocessor"))
    }
    if log_tau is not None and "log_tau" in policy.sampler_params():
        with torch.no_grad():
            policy.log_tau.copy_(log_tau)
    sched = config.get("noise_scheduler_type", "DDPM")
    description = (
        f"LeRobot Diffusion Policy from {directory} ({sched}-trained, {config['prediction_type']} prediction, "
        f"{config['num_train_timesteps']} train timesteps, clip_sample={config['clip_sample']}), converted to a flow "
        f"on the {flow_config.sampler.num_steps}-step DDIM grid ({velocity.grid!r} time labels); observes {layout}"
        + (f" x {n_obs} steps" if n_obs > 1 else "")
    )
    policy.description = description
    return policy


def _dataclass_kwargs(cls, raw: dict) -> dict:
    """JSON config -> constructor kwargs (features as PolicyFeature, mappings as enums, tuples as tuples)."""
    from lerobot.configs.types import FeatureType, NormalizationMode, PolicyFeature

    names = {f.name for f in dataclasses.fields(cls) if f.init} - {"device"}
    out = {}
    for key, value in raw.items():
        if key not in names:
            continue
        if key in ("input_features", "output_features") and value is not None:
            value = {
                k: PolicyFeature(type=FeatureType(ft["type"]), shape=tuple(ft["shape"])) for k, ft in value.items()
            }
        elif key == "normalization_mapping":
            value = {k: NormalizationMode(v) for k, v in value.items()}
        elif isinstance(value, list):
            value = tuple(value)
        out[key] = value
    return out


def _read_sampler(directory: Path):
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
    genpo.checkpoint.load_policy restores it; LeRobot ignores that file. A PushT policy on the split layout
    (datasets/pusht_split) also gets genpo.lerobot.pusht_processor.PushtBlockPoseStep in its preprocessor,
    so lerobot-eval on LeRobot's pusht env (environment_state_agent_pos) evaluates it.
    """
    from safetensors.torch import save_file

    config = dict(policy.lerobot_config)
    config.update(noise_scheduler_type="DDIM", num_inference_steps=policy.config.sampler.num_steps)
    (directory / "config.json").write_text(json.dumps(config, indent=4))
    state = {
        f"diffusion.unet.{k}": v.detach().to("cpu", torch.float32).contiguous()
        for k, v in policy.velocity_net.unet.state_dict().items()
    }
    save_file(state, directory / "model.safetensors", metadata={"format": "pt"})
    for name, data in policy.lerobot_files.items():
        (directory / name).write_bytes(data)
    from genpo.lerobot.pusht import add_block_pose_step, is_pusht_split_layout

    if is_pusht_split_layout(config) and (directory / "policy_preprocessor.json").is_file():
        add_block_pose_step(
            directory
        )  # lerobot-eval on LeRobot's pusht env (corners -> block pose); no-op on 3-d input
    sampler = dataclasses.asdict(policy.config.sampler) | {"diffusion_grid": policy.velocity_net.grid}
    if "log_tau" in policy.sampler_params():
        sampler["log_tau"] = policy.log_tau.detach().cpu().double().tolist()
    (directory / SAMPLER_FILE).write_text(json.dumps(sampler, indent=2))
