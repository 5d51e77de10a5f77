"""The algorithm registry: `algo=` name -> class. Each class carries its config dataclass
(`config_class`, composed into FinetuneConfig) and the policy kind it fine-tunes (`policy_class`)."""

from __future__ import annotations

from finetune.algos.base import Act, Algorithm, Evaluation
from finetune.algos.dppo import DPPO
from finetune.algos.fpo import FPO
from finetune.algos.gaussian import GaussianPPO
from finetune.algos.genpopp import GenPOpp
from finetune.algos.reinflow import ReinFlow

ALGORITHMS: dict[str, type[Algorithm]] = {cls.name: cls for cls in (GenPOpp, ReinFlow, DPPO, FPO, GaussianPPO)}


def algorithm_class(name: str) -> type[Algorithm]:
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; choose one of: {', '.join(sorted(ALGORITHMS))}")
    return ALGORITHMS[name]


__all__ = ["ALGORITHMS", "Act", "Algorithm", "Evaluation", "algorithm_class"]
