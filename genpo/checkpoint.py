"""Policy checkpoints: LeRobot-style policy directories (config.json with "type" + model.safetensors).

    policy = load_policy("checkpoints/pusht", obs_dim=5, action_dim=2)   # any supported kind
    print(policy.description)                                             # what was loaded, and how
    save_policy(policy, "runs/x/export")                                  # one atomic directory write

`load_policy` reads config.json once and dispatches on its "type":

    "genpo_flow" | "genpo_diffusion" | "genpo_gaussian"   genpo's policies (genpo.policies.POLICY_TYPES)
    "diffusion"                LeRobot Diffusion Policy with state observations: its U-Net as a velocity
                               field on the DDIM grid (genpo.conversions, genpopp.md §6); saved back as a
                               LeRobot diffusion directory
    "pi0", "smolvla", ...      refused with the reason: they need camera images and a vision backbone
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch
from omegaconf import OmegaConf
from safetensors import SafetensorError
from safetensors.torch import load_file

from genpo.io import atomic_directory
from genpo.policies import CONFIG_NAME, POLICY_TYPES, WEIGHTS_NAME, ChunkPolicy

IMAGE_POLICIES = ("pi0", "pi05", "pi0_fast", "smolvla", "act", "vqbet", "groot", "xvla", "wall_x")


def save_policy(policy: ChunkPolicy, directory: str | Path, extra_files: dict[str, str] | None = None) -> Path:
    """Write the policy directory (policy.write_checkpoint: config.json, model.safetensors with weights and
    normaliser statistics, LeRobot's processor files; converted policies write their source format) and
    any extra text files, atomically."""

    def write(tmp: Path) -> None:
        policy.write_checkpoint(tmp)
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text)

    return atomic_directory(directory, write)


def read_policy_config(directory: Path) -> dict:
    """The directory's config.json, with clear errors for a missing or corrupt file."""
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"no policy checkpoint at {directory}: expected a directory with {CONFIG_NAME} and {WEIGHTS_NAME}"
        )
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); the checkpoint is corrupt") from None


def load_policy(
    path: str | Path,
    *,
    obs_dim: int | None = None,
    action_dim: int | None = None,
    device: str | torch.device = "cpu",
    num_steps: int | None = None,
    diffusion_grid: str | None = None,
) -> ChunkPolicy:
    """Load a policy directory of any supported kind; `policy.description` says what it was.

    obs_dim / action_dim, if given, must match what the checkpoint observes and does. num_steps
    overrides the number of sampler steps of converted policies (default: the checkpoint's DDIM
    num_inference_steps, else 10). diffusion_grid picks the time labels of a converted diffusion
    policy's DDIM grid ("ddim" default, "ddim_start", "uniform": see genpo.conversions).
    """
    directory = Path(path)
    raw = read_policy_config(directory)
    kind = raw.get("type")
    if diffusion_grid and kind != "diffusion":
        raise ValueError(
            f"diffusion_grid={diffusion_grid!r} applies to LeRobot Diffusion Policies only; {directory} holds "
            f"a {kind!r} policy: leave diffusion_grid unset"
        )
    if kind in POLICY_TYPES:
        policy = _load_genpo_policy(directory, raw, obs_dim, action_dim, device)
        policy.description = f"genpo {kind} policy from {directory}"
    elif kind == "diffusion":
        policy = _load_lerobot_diffusion(directory, raw, obs_dim, action_dim, num_steps, diffusion_grid).to(device)
    else:
        raise _unsupported(directory, kind, raw)
    policy.pretrained = True
    return policy


def _unsupported(directory: Path, kind: str | None, raw: dict) -> ValueError:
    if kind in IMAGE_POLICIES:
        visual = [k for k, ft in (raw.get("input_features") or {}).items() if ft.get("type") == "VISUAL"]
        needs = f"camera images ({', '.join(visual)})" if visual else "camera images"
        return ValueError(
            f"{directory} holds a LeRobot {kind!r} policy: this checkpoint needs {needs}; genpo fine-tunes "
            f"state-observation policies only ({', '.join(sorted(POLICY_TYPES))}, or LeRobot diffusion "
            "with state inputs)"
        )
    return ValueError(
        f"{directory} holds a policy of type {kind!r}; genpo loads {', '.join(sorted(POLICY_TYPES))} and "
        "LeRobot 'diffusion' (state observations) checkpoints"
    )


def _load_lerobot_diffusion(directory: Path, raw: dict, obs_dim, action_dim, num_steps, grid) -> ChunkPolicy:
    from genpo.lerobot.diffusion import check_state_only, load_lerobot_diffusion

    check_state_only(raw, directory)  # before importing lerobot: a clear error even without it
    try:
        import lerobot  # noqa: F401
    except ImportError:
        raise ImportError(
            f"{directory} is a LeRobot Diffusion Policy: install the lerobot extra "
            f"(pip install -e '.[lerobot]') to convert it"
        ) from None
    return load_lerobot_diffusion(
        directory, raw, obs_dim=obs_dim, action_dim=action_dim, num_steps=num_steps, grid=grid
    )


def _load_genpo_policy(
    directory: Path, raw: dict, obs_dim: int | None, action_dim: int | None, device: str | torch.device
) -> ChunkPolicy:
    policy_class = POLICY_TYPES[raw["type"]]
    known = {f.name for f in dataclasses.fields(policy_class.config_class)}
    config = OmegaConf.to_object(
        OmegaConf.merge(OmegaConf.structured(policy_class.config_class), {k: v for k, v in raw.items() if k in known})
    )
    for field_name, expected in (("obs_dim", obs_dim), ("action_dim", action_dim)):
        if expected is not None and getattr(config, field_name) != expected:
            raise ValueError(
                f"checkpoint {directory} has {field_name}={getattr(config, field_name)}, but the env needs "
                f"{field_name}={expected}: pick a checkpoint trained for this task"
            )
    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} is missing: the checkpoint is incomplete")
    try:
        state = load_file(weights, device=str(device))
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{weights} is corrupt or truncated ({err}); re-create the checkpoint") from None
    policy = policy_class(config).to(device)
    missing, unexpected = set(policy.state_dict()) - set(state), set(state) - set(policy.state_dict())
    if missing or unexpected:
        raise ValueError(
            f"{weights} does not match its config.json: missing {sorted(missing)}, unexpected {sorted(unexpected)}"
        )
    try:
        policy.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"{weights} does not match its config.json: {err}") from None
    return policy
