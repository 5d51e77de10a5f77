"""PushT observation layouts: gym-pusht's `state` vector <-> LeRobot's `environment_state_agent_pos`.

Our PushT policies observe gym-pusht's obs_type="state": [agent_x, agent_y, block_x, block_y,
block_angle]. LeRobot's pusht env config cannot deliver that vector (its observation preprocessing
only understands dict observations), its state-only route is obs_type="environment_state_agent_pos":
observation.state = agent position (2) and observation.environment_state = the 8 corners of the T in
world coordinates (16 numbers, gym-pusht's `get_keypoints`). The corners are a rigid transform of fixed
body-frame vertices, so the block pose is recovered exactly (2-D Procrustes), up to float rounding.

LeRobot Diffusion Policies trained on datasets/pusht_split (agent 2 + block pose 3) get the same route
through genpo.lerobot.pusht_processor.PushtBlockPoseStep, which `add_block_pose_step(dir)` (or
`python -m genpo.lerobot.pusht DIR`) inserts into a policy directory's preprocessor.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import Tensor

# Body-frame vertices of the T's two rectangles, in the order gym-pusht's get_keypoints returns them
# (pymunk Poly vertices of PushTEnv.add_tee with scale=30, length=4).
T_VERTICES = torch.tensor([[-60.0, 0.0], [60.0, 0.0], [60.0, 30.0], [-60.0, 30.0],
                           [-15.0, 30.0], [15.0, 30.0], [15.0, 120.0], [-15.0, 120.0]], dtype=torch.float64)


def pusht_state_from_keypoints(agent_pos: Tensor, keypoints: Tensor) -> Tensor:
    """(B, 2) agent position + (B, 16) T corners -> (B, 5) gym-pusht state (angle in [0, 2 pi))."""
    world = keypoints.reshape(*keypoints.shape[:-1], 8, 2).to(torch.float64)
    local = T_VERTICES.to(world.device)
    p, q = local - local.mean(0), world - world.mean(-2, keepdim=True)
    cross = (p[:, 0] * q[..., 1] - p[:, 1] * q[..., 0]).sum(-1)
    dot = (p * q).sum((-2, -1))
    angle = torch.atan2(cross, dot)
    cos, sin = angle.cos(), angle.sin()
    centre = local.mean(0)
    rotated_centre = torch.stack([cos * centre[0] - sin * centre[1], sin * centre[0] + cos * centre[1]], -1)
    position = world.mean(-2) - rotated_centre
    state = torch.cat([agent_pos.to(torch.float64), position, torch.remainder(angle, 2 * math.pi)[..., None]], -1)
    return state.to(keypoints.dtype)


def pusht_keypoints_from_state(state: Tensor) -> Tensor:
    """(B, 5) gym-pusht state -> (B, 16) T corners (what gym-pusht's environment_state reports)."""
    s = state.to(torch.float64)
    cos, sin = s[..., 4].cos()[..., None], s[..., 4].sin()[..., None]
    local = T_VERTICES.to(s.device)
    x = cos * local[:, 0] - sin * local[:, 1] + s[..., 2:3]
    y = sin * local[:, 0] + cos * local[:, 1] + s[..., 3:4]
    return torch.stack([x, y], -1).flatten(-2).to(state.dtype)


# ---- LeRobot Diffusion Policies on the split layout (datasets/pusht_split) ----------------------------
BLOCK_POSE_STEP = "genpo.lerobot.pusht_processor.PushtBlockPoseStep"


def is_pusht_split_layout(config: dict) -> bool:
    """A LeRobot policy config that observes agent (2) as observation.state and block pose (3) as
    observation.environment_state and acts in 2-d (a policy trained on datasets/pusht_split)."""
    features = config.get("input_features") or {}
    shapes = {k: list(ft.get("shape", [])) for k, ft in features.items()}
    action = (config.get("output_features") or {}).get("action", {}).get("shape")
    return shapes == {"observation.state": [2], "observation.environment_state": [3]} and list(action or []) == [2]


def add_block_pose_step(directory: str | Path) -> bool:
    """Insert PushtBlockPoseStep into <directory>/policy_preprocessor.json, just before the normaliser, so
    that lerobot-eval --env.type=pusht --env.obs_type=environment_state_agent_pos (agent 2 + T corners 16)
    feeds the block pose the policy was trained on. Idempotent; returns True if the file changed."""
    path = Path(directory) / "policy_preprocessor.json"
    pipeline = json.loads(path.read_text())
    steps = pipeline.get("steps", [])
    if any(step.get("class") == BLOCK_POSE_STEP for step in steps):
        return False
    at = next((i for i, s in enumerate(steps) if s.get("registry_name") == "normalizer_processor"), len(steps))
    steps.insert(at, {"class": BLOCK_POSE_STEP, "config": {"state_key": "observation.state",
                                                           "env_state_key": "observation.environment_state"}})
    pipeline["steps"] = steps
    path.write_text(json.dumps(pipeline, indent=4))
    return True


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m genpo.lerobot.pusht",
                                 description="Add the PushT corners -> block pose step to LeRobot Diffusion Policy directories "
                                             "trained on datasets/pusht_split (for lerobot-eval on LeRobot's pusht env).")
    ap.add_argument("directories", nargs="+", type=Path)
    args = ap.parse_args(argv)
    for directory in args.directories:
        config = json.loads((directory / "config.json").read_text())
        if not is_pusht_split_layout(config):
            ap.error(f"{directory} does not observe observation.state (2) + observation.environment_state (3) with 2-d actions")
        print(f"{directory}: {'added' if add_block_pose_step(directory) else 'already has'} {BLOCK_POSE_STEP}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
