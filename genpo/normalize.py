"""Observation / action normalisation from dataset statistics, saved with the policy.

The formulas follow LeRobot's normaliser so that its processors and ours agree:
    min_max  : x_n = 2 (x - min) / (max - min + eps) - 1        (to [-1, 1])
    mean_std : x_n = (x - mean) / (std + eps)
    identity : x_n = x
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor, nn

MODES = ("min_max", "mean_std", "identity")
EPS = 1e-8


class Normalizer(nn.Module):
    """Per-feature affine normaliser; statistics are buffers, so they travel in model.safetensors."""

    def __init__(self, mode: str, dim: int, stats: Mapping[str, np.ndarray | Tensor] | None = None):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"normalisation mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        for key, fill in (("min", -1.0), ("max", 1.0), ("mean", 0.0), ("std", 1.0)):
            value = (
                torch.full((dim,), fill)
                if stats is None
                else torch.as_tensor(np.asarray(stats[key]), dtype=torch.float32).reshape(dim)
            )
            self.register_buffer(key, value.clone())

    def _affine(self) -> tuple[Tensor, Tensor]:
        """(offset, scale) with x_n = (x - offset) / scale."""
        if self.mode == "min_max":
            half_range = (self.max - self.min + EPS) / 2
            return self.min + half_range, half_range
        if self.mode == "mean_std":
            return self.mean, self.std + EPS
        return torch.zeros_like(self.mean), torch.ones_like(self.std)

    def normalize(self, x: Tensor) -> Tensor:
        offset, scale = self._affine()
        return (x - offset) / scale

    def unnormalize(self, x: Tensor) -> Tensor:
        offset, scale = self._affine()
        return x * scale + offset
