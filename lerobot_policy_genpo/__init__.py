"""genpo's flow policy as a LeRobot third-party policy plugin (policy type "genpo_flow").

Importing this package registers, with lerobot 0.4.x:
- GenpoFlowConfig as PreTrainedConfig subclass "genpo_flow" (configuration_genpo),
- GenpoFlowPolicy, found by lerobot's factory next to it (modeling_genpo),
- make_genpo_flow_pre_post_processors and the "genpo_observation_adapter" processor step (processor_genpo).

lerobot's scripts import plugins from installed distributions whose name starts with
"lerobot_policy_" (lerobot.utils.import_utils.register_third_party_plugins). This package ships inside
the `genpo` distribution, so either pass `--discover_packages_path=lerobot_policy_genpo` to a lerobot
script, or also install the marker distribution next to this file
for automatic discovery
(`pip install --no-build-isolation --no-deps ./lerobot_policy_genpo`). See docs/lerobot.md.
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
