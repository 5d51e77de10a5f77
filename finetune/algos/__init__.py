"""Algorithm registry: name -> builder(policy, cfg, calibration_obs) -> Algorithm."""

from __future__ import annotations

from typing import Callable

from torch import Tensor

from finetune.algos.base import Algorithm
from finetune.algos.genpopp import GenPOpp
from finetune.config import FinetuneConfig
from genpo.policy import FlowPolicy

ALGORITHMS: dict[str, Callable[[FlowPolicy, FinetuneConfig, Tensor], Algorithm]] = {
    "genpopp": lambda policy, cfg, obs: GenPOpp(policy, cfg.genpopp, obs),
}


def check_algorithm(name: str) -> None:
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; choose one of: {', '.join(sorted(ALGORITHMS))}")


def build_algorithm(policy: FlowPolicy, cfg: FinetuneConfig, calibration_obs: Tensor) -> Algorithm:
    check_algorithm(cfg.algo)
    return ALGORITHMS[cfg.algo](policy, cfg, calibration_obs)
