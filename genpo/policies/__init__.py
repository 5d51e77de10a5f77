"""genpo's policies: one base (normalisers, chunk layout, directory writing) and three kinds.

    POLICY_TYPES[config.json "type"] -> class         (genpo.checkpoint.load_policy dispatches on it)
    POLICY_OBJECTIVES[pretraining objective] -> class  (pretrain/run.py objective=..., and the suffix of a
                                                        task's checkpoint for that kind: <checkpoint>_ddpm)
"""

from __future__ import annotations

from genpo.policies.base import CONFIG_NAME, WEIGHTS_NAME, ChunkPolicy, ChunkPolicyConfig, PolicyOutput
from genpo.policies.diffusion import DiffusionConfig, DiffusionPolicy, DiffusionPolicyConfig
from genpo.policies.flow import FlowPolicy, FlowPolicyConfig
from genpo.policies.gaussian import GaussianPolicy, GaussianPolicyConfig

POLICY_CLASSES: tuple[type[ChunkPolicy], ...] = (FlowPolicy, DiffusionPolicy, GaussianPolicy)
POLICY_TYPES: dict[str, type[ChunkPolicy]] = {cls.config_class.policy_type: cls for cls in POLICY_CLASSES}
POLICY_OBJECTIVES: dict[str, type[ChunkPolicy]] = {cls.objective: cls for cls in POLICY_CLASSES}

__all__ = ["CONFIG_NAME", "POLICY_CLASSES", "POLICY_OBJECTIVES", "POLICY_TYPES", "WEIGHTS_NAME", "ChunkPolicy",
           "ChunkPolicyConfig", "DiffusionConfig", "DiffusionPolicy", "DiffusionPolicyConfig", "FlowPolicy",
           "FlowPolicyConfig", "GaussianPolicy", "GaussianPolicyConfig", "PolicyOutput"]
