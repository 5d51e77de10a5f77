"""genpo's flow policy as a LeRobot third-party policy plugin (policy type "genpo_flow").

Importing this package registers, with lerobot 0.6.x:
- GenpoFlowConfig as PreTrainedConfig subclass "genpo_flow" (configuration_genpo),
- GenpoFlowPolicy, found by lerobot's factory next to it (modeling_genpo),
- make_genpo_flow_pre_post_processors and the "genpo_observation_adapter" processor step (processor_genpo).

This folder is its own distribution, `lerobot_policy_genpo` (pyproject.toml here), installed by the
project's install command (`pip install -e ".[dev]" -e ./lerobot_policy_genpo`). lerobot's scripts import
every installed distribution whose name starts with "lerobot_policy_"
(lerobot.utils.import_utils.register_third_party_plugins), so `lerobot-train --policy.type=genpo_flow`
and `lerobot-eval` on our checkpoints need no --discover_packages_path. See docs/lerobot.md.
"""

from lerobot_policy_genpo.configuration_genpo import GenpoFlowConfig
from lerobot_policy_genpo.modeling_genpo import GenpoFlowPolicy
from lerobot_policy_genpo.processor_genpo import (
    GenpoObservationAdapterStep,
    make_genpo_flow_pre_post_processors,
    make_genpo_pre_post_processors,
)

__all__ = ["GenpoFlowConfig", "GenpoFlowPolicy", "GenpoObservationAdapterStep",
           "make_genpo_flow_pre_post_processors", "make_genpo_pre_post_processors"]
