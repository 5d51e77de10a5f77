"""LeRobot processor step: PushT corners -> block pose, for LeRobot Diffusion Policies trained on `pusht_split`.

A LeRobot Diffusion Policy trained on `datasets/pusht_split` observes `observation.state` = agent (x, y)
and `observation.environment_state` = block (x, y, angle). LeRobot's pusht env (lerobot-eval) cannot give
that: its state-only route, `--env.obs_type=environment_state_agent_pos`, reports the agent position and
the 8 corners of the T (16 numbers). `PushtBlockPoseStep` replaces those corners by the block pose,
recovered exactly (genpo.lerobot.pusht.pusht_state_from_keypoints); a 3-d environment state (e.g. from the
dataset) passes through unchanged.

The step is deliberately *not* registered in LeRobot's ProcessorStepRegistry: a policy_preprocessor.json
names it by its import path (`"class": "genpo.lerobot.pusht_processor.PushtBlockPoseStep"`), which LeRobot's
pipeline loader imports itself, so lerobot-eval needs no plugin flag for a `diffusion` policy that uses it
(genpo must be installed). genpo.lerobot.pusht.add_block_pose_step writes that entry into a directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from lerobot.configs.types import FeatureType, PipelineFeatureType, PolicyFeature
from lerobot.processor import ObservationProcessorStep

from genpo.lerobot.pusht import pusht_state_from_keypoints


@dataclass
class PushtBlockPoseStep(ObservationProcessorStep):
    state_key: str = "observation.state"
    env_state_key: str = "observation.environment_state"

    def observation(self, observation: dict[str, Any]) -> dict[str, Any]:
        env_state = observation.get(self.env_state_key)
        if env_state is None or env_state.shape[-1] == 3:
            return observation
        state = observation.get(self.state_key)
        if env_state.shape[-1] == 16 and state is not None and state.shape[-1] == 2:
            env_state, state = torch.as_tensor(env_state), torch.as_tensor(state)
            observation = dict(observation)
            observation[self.env_state_key] = pusht_state_from_keypoints(state.to(env_state.dtype), env_state)[..., 2:]
            return observation
        got = f"{self.state_key} {None if state is None else tuple(state.shape)}, {self.env_state_key} {tuple(env_state.shape)}"
        raise ValueError(f"the policy observes {self.env_state_key} = PushT block pose (x, y, angle); got {got}. "
                         f"For LeRobot's PushT env use --env.obs_type=environment_state_agent_pos")

    def get_config(self) -> dict[str, Any]:
        return {"state_key": self.state_key, "env_state_key": self.env_state_key}

    def transform_features(self, features: dict[PipelineFeatureType, dict[str, PolicyFeature]]):
        observation = dict(features.get(PipelineFeatureType.OBSERVATION, {}))
        if self.env_state_key in observation:
            observation[self.env_state_key] = PolicyFeature(type=FeatureType.ENV, shape=(3,))
        return {**features, PipelineFeatureType.OBSERVATION: observation}
