"""LeRobot interoperability: processor files for our checkpoints, LeRobot checkpoints as flow policies.

The LeRobot plugin itself (config, policy and processor classes that lerobot's factory loads) is the
top-level package `lerobot_policy_genpo` (lerobot discovers plugins by that name prefix). Modules here
import lerobot only where they must (loading a LeRobot Diffusion checkpoint), so genpo works without it.
"""
