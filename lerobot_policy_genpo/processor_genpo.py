"""Pre/post-processors for genpo_flow: LeRobot's normaliser steps with our statistics.

genpo.checkpoint.save_policy writes the same pipelines as JSON (genpo.lerobot.processors), so
lerobot-eval and lerobot's factory load them from any genpo checkpoint.

GenpoObservationAdapterStep ("genpo_observation_adapter") passes the state through when it already
has obs_dim numbers, and otherwise converts the one layout we know: LeRobot's PushT env with
obs_type=environment_state_agent_pos (agent position 2 + T corners 16) -> gym-pusht's 5-d state
vector [agent_x, agent_y, block_x, block_y, block_angle] that our PushT policies observe (exact).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from lerobot.configs.types import FeatureType, NormalizationMode, PipelineFeatureType, PolicyFeature
from lerobot.processor import (
    AddBatchDimensionProcessorStep,
    DeviceProcessorStep,
    NormalizerProcessorStep,
    ObservationProcessorStep,
    PolicyAction,
    PolicyProcessorPipeline,
    ProcessorStepRegistry,
    RenameObservationsProcessorStep,
    UnnormalizerProcessorStep,
)
from lerobot.processor.converters import policy_action_to_transition, transition_to_policy_action
from lerobot.utils.constants import OBS_ENV_STATE, POLICY_POSTPROCESSOR_DEFAULT_NAME, POLICY_PREPROCESSOR_DEFAULT_NAME

from genpo.lerobot.processors import OBSERVATION_ADAPTER, OUR_MODES
from genpo.lerobot.pusht import pusht_state_from_keypoints
from lerobot_policy_genpo.configuration_genpo import GenpoFlowConfig


@ProcessorStepRegistry.register(name=OBSERVATION_ADAPTER)
@dataclass
class GenpoObservationAdapterStep(ObservationProcessorStep):
    obs_key: str = "observation.state"
    obs_dim: int = 0

    def observation(self, observation: dict[str, Any]) -> dict[str, Any]:
        state = observation.get(self.obs_key)
        if state is None or state.shape[-1] == self.obs_dim:
            return observation
        env_state = observation.get(OBS_ENV_STATE)
        if self.obs_dim == 5 and state.shape[-1] == 2 and env_state is not None and env_state.shape[-1] == 16:
            observation = dict(observation)
            observation[self.obs_key] = pusht_state_from_keypoints(torch.as_tensor(state), torch.as_tensor(env_state))
            return observation
        extra = f" and {OBS_ENV_STATE} {tuple(env_state.shape)}" if env_state is not None else ""
        raise ValueError(f"the policy observes {self.obs_key} with {self.obs_dim} numbers; got {tuple(state.shape)}{extra}. "
                         f"For LeRobot's PushT env use --env.obs_type=environment_state_agent_pos")

    def get_config(self) -> dict[str, Any]:
        return {"obs_key": self.obs_key, "obs_dim": self.obs_dim}

    def transform_features(self, features: dict[PipelineFeatureType, dict[str, PolicyFeature]]):
        observation = dict(features.get(PipelineFeatureType.OBSERVATION, {}))
        observation[self.obs_key] = PolicyFeature(type=FeatureType.STATE, shape=(self.obs_dim,))
        return {**features, PipelineFeatureType.OBSERVATION: observation}


def make_genpo_flow_pre_post_processors(
    config: GenpoFlowConfig, dataset_stats: dict[str, dict[str, torch.Tensor]] | None = None
) -> tuple[PolicyProcessorPipeline[dict[str, Any], dict[str, Any]], PolicyProcessorPipeline[PolicyAction, PolicyAction]]:
    """The pipelines lerobot's factory builds for policy type "genpo_flow" (found by this name)."""
    config.validate_features()
    features = {config.obs_key: PolicyFeature(type=FeatureType.STATE, shape=(config.obs_dim,)),
                config.action_key: PolicyFeature(type=FeatureType.ACTION, shape=(config.action_dim,))}
    norm_map = {FeatureType.STATE: NormalizationMode(OUR_MODES[config.obs_norm]),
                FeatureType.ACTION: NormalizationMode(OUR_MODES[config.action_norm])}
    stats = {k: v for k, v in (dataset_stats or {}).items() if k in features} or None
    input_steps = [
        RenameObservationsProcessorStep(rename_map={}),
        AddBatchDimensionProcessorStep(),
        DeviceProcessorStep(device=config.device),
        GenpoObservationAdapterStep(obs_key=config.obs_key, obs_dim=config.obs_dim),
        NormalizerProcessorStep(features=features, norm_map=norm_map, stats=stats),
    ]
    output_steps = [
        UnnormalizerProcessorStep(features={config.action_key: features[config.action_key]}, norm_map=norm_map, stats=stats),
        DeviceProcessorStep(device="cpu"),
    ]
    return (
        PolicyProcessorPipeline[dict[str, Any], dict[str, Any]](steps=input_steps, name=POLICY_PREPROCESSOR_DEFAULT_NAME),
        PolicyProcessorPipeline[PolicyAction, PolicyAction](
            steps=output_steps, name=POLICY_POSTPROCESSOR_DEFAULT_NAME,
            to_transition=policy_action_to_transition, to_output=transition_to_policy_action),
    )


make_genpo_pre_post_processors = make_genpo_flow_pre_post_processors
