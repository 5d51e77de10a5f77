"""Samplers: pure, batched tensor maps from a standard-normal latent to an action."""

from genpo.samplers.base import SampleOutput, VelocityFn, standard_normal_log_prob, time_grid
from genpo.samplers.ddpm import DenoisingSampler
from genpo.samplers.euler import EulerSampler
from genpo.samplers.noisy_euler import NoisyEulerSampler
from genpo.samplers.reversible import ReversibleSampler

__all__ = ["DenoisingSampler", "EulerSampler", "NoisyEulerSampler", "ReversibleSampler", "SampleOutput", "VelocityFn",
           "standard_normal_log_prob", "time_grid"]
