"""Pretrained models -> flow policies v(x, s, t) in our convention (t = 0 noise, t = 1 action).

    policy, description = load_any_policy("checkpoints/pusht", obs_dim=5, action_dim=2)

`load_any_policy` reads what a policy directory holds and returns an object with FlowPolicy's
interface (velocity, set_sampler, sampler, sampler_params, log_tau, latent, sample, log_prob,
to_env_actions, config, obs_normalizer; genpo.checkpoint.save_policy saves it in its own format):

    config.json "type"        what it becomes
    "genpo_flow"              our FlowPolicy (genpo.checkpoint.load_policy)
    "diffusion"               LeRobot Diffusion Policy, state observations only: its U-Net as a
                              velocity field on the DDIM grid (genpo.lerobot.diffusion, genpopp.md §6);
                              saved back as a LeRobot diffusion directory
    "pi0", "pi05", "smolvla"  refused: they need camera images and a vision-language backbone. Their
                              reversed-time action expert convention is covered by ReversedTimeVelocity.

Conversions of the time convention (genpopp.md §6):
- rectified flow in our convention: the network as is;
- reversed time (pi0 / SmolVLA, diffusers FlowMatchEulerDiscreteScheduler: x_s = s noise + (1 - s) data,
  network output = noise - data): ReversedTimeVelocity, v(x, t) = -model(x, s = 1 - t);
- DDPM / DDIM epsilon (or sample) prediction: genpo.lerobot.diffusion.DDIMVelocity.
Normalisation stays outside the velocity: the density lives in the normalised action space,
unnormalisation is post-processing (FlowPolicy.to_env_actions).
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor, nn

from genpo.checkpoint import POLICY_CLASSES, load_policy, read_policy_type
from genpo.policy import FlowPolicy

IMAGE_POLICIES = ("pi0", "pi05", "pi0_fast", "smolvla", "act", "vqbet", "groot", "xvla", "wall_x")


class ReversedTimeVelocity(nn.Module):
    """A network in the reversed-time convention (s = 1 noise, s = 0 data, output noise - data) as a
    velocity in ours: v(x, obs, t) = -model(x, obs, 1 - t). Differentiable: gradients reach `model`
    through every sampler step, as fine-tuning needs."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, obs: Tensor, t: Tensor) -> Tensor:
        return -self.model(x, obs, 1 - t)


def load_any_policy(path: str | Path, *, obs_dim: int | None = None, action_dim: int | None = None,
                    num_steps: int | None = None, diffusion_grid: str | None = None) -> tuple[FlowPolicy, str]:
    """Load a policy directory of any supported kind as a flow policy; returns (policy, description).

    obs_dim / action_dim, if given, must match what the checkpoint observes and does. num_steps
    overrides the number of sampler steps of converted policies (default: the checkpoint's
    DDIM num_inference_steps, else 10). diffusion_grid picks the time labels of a converted diffusion
    policy's DDIM grid ("ddim" default, "ddim_start", "uniform": see genpo.lerobot.diffusion).
    """
    directory = Path(path)
    kind, raw = read_policy_type(directory)
    if diffusion_grid and kind != "diffusion":
        raise ValueError(f"diffusion_grid={diffusion_grid!r} applies to LeRobot Diffusion Policies only; {directory} holds "
                         f"a {kind!r} policy: leave diffusion_grid unset")
    if kind in POLICY_CLASSES:  # genpo's own flow, diffusion (DPPO) and Gaussian (PPO) policies
        return load_policy(directory, obs_dim=obs_dim, action_dim=action_dim), f"genpo {kind} policy from {directory}"
    if kind == "diffusion":
        from genpo.lerobot.diffusion import check_state_only, load_lerobot_diffusion

        check_state_only(raw, directory)  # before importing lerobot: a clear error even without it
        try:
            import lerobot  # noqa: F401
        except ImportError:
            raise ImportError(f"{directory} is a LeRobot Diffusion Policy: install the lerobot extra "
                              f"(pip install -e '.[lerobot]') to convert it") from None
        return load_lerobot_diffusion(directory, raw, obs_dim=obs_dim, action_dim=action_dim, num_steps=num_steps,
                                      grid=diffusion_grid)
    if kind in IMAGE_POLICIES:
        visual = [k for k, ft in (raw.get("input_features") or {}).items() if ft.get("type") == "VISUAL"]
        needs = f"camera images ({', '.join(visual)})" if visual else "camera images"
        raise ValueError(f"{directory} holds a LeRobot {kind!r} policy: this checkpoint needs {needs}; genpo fine-tunes "
                         f"state-observation policies only (genpo_flow, or LeRobot diffusion with state inputs)")
    raise ValueError(f"{directory} holds a policy of type {kind!r}; genpo can load 'genpo_flow' and LeRobot 'diffusion' "
                     f"(state observations) checkpoints")
