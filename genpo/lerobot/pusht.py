"""PushT observation layouts: gym-pusht's `state` vector <-> LeRobot's `environment_state_agent_pos`.

Our PushT policies observe gym-pusht's obs_type="state": [agent_x, agent_y, block_x, block_y,
block_angle]. LeRobot's pusht env config cannot deliver that vector (its observation preprocessing
only understands dict observations), its state-only route is obs_type="environment_state_agent_pos":
observation.state = agent position (2) and observation.environment_state = the 8 corners of the T in
world coordinates (16 numbers, gym-pusht's `get_keypoints`). The corners are a rigid transform of fixed
body-frame vertices, so the block pose is recovered exactly (2-D Procrustes), up to float rounding.
"""

from __future__ import annotations

import math

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
