"""Typed fine-tuning configs. `configs/finetune.yaml` + groups task=, algo= + key=value overrides.

FinetuneConfig = RunConfig (the fields below) + one section per registered algorithm, holding that
algorithm's own config dataclass (finetune/algos/<name>.py): registering an algorithm adds its section.
A run's resolved config.yaml keeps only the section of the algorithm that ran (`run_config`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

from finetune.algos import ALGORITHMS
from genpo.config import Allowed, above, at_least, between, one_of
from genpo.task import TaskConfig


@dataclass
class PPOConfig:
    """The one PPO harness shared by every algorithm."""

    iterations: int = 40
    steps_per_iter: int = 128  # policy steps (action chunks) per env per iteration
    epochs: int = 5
    minibatch_size: int = 256
    minibatches: int = 0  # > 0: split every epoch's walk of the buffer into this many minibatches (the authors' count,
    # whatever the layout), instead of minibatch_size
    gamma: float = 0.99  # per policy step (one action chunk)
    gae_lambda: float = 0.95
    clip: float = 0.2
    value_clip: float = 0.0  # > 0 clips the value update around the rollout value
    value_coef: float = 0.5
    max_grad_norm: float = 1.0
    actor_lr: float = 1e-4
    critic_lr: float = 1e-3
    target_kl: float = 0.01  # adaptive actor LR (rsl_rl rule: /1.5 above 2x target, x1.5 below target/2); 0 disables
    kl_measure: str = "ratio"  # what the rule reads: ratio (k3 KL of the PPO ratio, every minibatch) | action (the
    # algorithm's action-level KL proxy, after every epoch: GenPO++'s shift of x_N at fixed latents / exploration spread)
    min_lr: float = 1e-6
    max_lr: float = 1e-2
    kl_early_stop: float = 0.0  # stop the epochs once KL exceeds this; 0 disables
    sample_repeats: int = 1  # each epoch walks the buffer this many times (ReinFlow's repeat_samples: 10)
    lr_cycle: int = 0  # > 0: cosine actor/critic LR restarted every this many iterations (ReinFlow); disables the KL rule
    lr_warmup: int = 0  # with lr_cycle: linear warm-up iterations at the start of each cycle
    actor_lr_floor: float = 1e-5  # with lr_cycle: the cosine's minimum
    critic_lr_floor: float = 1e-4
    critic_warmup_iters: int = 2  # value-only iterations before the actor moves
    normalize_advantages: bool = True
    reward_scaling: bool = True  # divide rewards by a running std of the discounted return
    bootstrap_truncated: bool = True  # False: treat time limits as terminal (ReinFlow/DPPO behaviour)
    ratio_check_tol: float = 1e-5  # |ratio - 1| allowed on the first minibatch at theta_old (same layout: exact)
    # |log p at sampling - log p recomputed from the stored sample| allowed: float32 round-off of the inversion
    # (at most 5.7e-5 in the main job, benchmarks/results/main_job/); a mismatched time grid gives >= 1 (tested)
    log_prob_tol: float = 1e-2
    critic_hidden: list[int] = field(default_factory=lambda: [256, 256])

    ALLOWED: ClassVar[dict[str, Allowed]] = {
        "iterations": at_least(0), "steps_per_iter": at_least(1), "epochs": at_least(1), "minibatch_size": at_least(1),
        "minibatches": at_least(0),
        "sample_repeats": at_least(1), "gamma": between(0, 1, low_open=True), "gae_lambda": between(0, 1),
        "clip": above(0), "value_clip": at_least(0), "actor_lr": above(0), "critic_lr": above(0),
        "min_lr": between(0, "max_lr", low_open=True), "target_kl": at_least(0), "kl_early_stop": at_least(0),
        "kl_measure": one_of("ratio", "action"),
        "lr_cycle": at_least(0), "lr_warmup": at_least(0), "critic_warmup_iters": at_least(0),
        "ratio_check_tol": above(0), "log_prob_tol": above(0),
    }


@dataclass
class PolicySource:
    path: str = ""  # a policy directory; empty: the task's shipped checkpoint
    from_scratch: bool = False  # fresh velocity network + independent-pair init (no checkpoint)
    hidden_dim: int = 256  # from scratch only
    num_blocks: int = 3
    num_steps: int = 10
    diffusion_grid: str = ""  # LeRobot Diffusion Policies: time labels of the DDIM grid ("ddim" default, "ddim_start", "uniform")


@dataclass
class RunConfig:
    task: TaskConfig = field(default_factory=TaskConfig)
    algo: str = "genpopp"  # a finetune.algos.ALGORITHMS name; its settings live in the section of that name
    policy: PolicySource = field(default_factory=PolicySource)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    seed: int = 0
    eval_episodes: int = 8
    eval_every: int = 10  # iterations between evaluations (and `best` checkpoint updates); 0: only at the ends
    output_dir: str = ""  # default runs/finetune/<task>-<algo>-s<seed>-<time>
    resume: bool = False  # continue the run in output_dir from its `last` checkpoint
    save_video: bool = True  # GIF of one evaluation episode where the backend renders off-screen
    threads: int = 1  # torch intra-op threads per process (1 is fastest for these small nets on CPU); 0: torch's default
    processes: int = 0  # expected world size (e.g. 2 with configs/accelerate/cpu_2proc.yaml): the run stops at start if
    # accelerate started another number of ranks (`accelerate launch --cpu --num_processes 2` starts ONE); 0: any

    ALLOWED: ClassVar[dict[str, Allowed]] = {
        "eval_episodes": at_least(0), "eval_every": at_least(0), "threads": at_least(0), "processes": at_least(0),
    }


def finetune_config_class() -> type[RunConfig]:
    """RunConfig + one section per algorithm registered now (finetune.algos.ALGORITHMS)."""
    return dataclasses.make_dataclass(
        "FinetuneConfig",
        [(cls.section(), cls.config_class, field(default_factory=cls.config_class)) for cls in ALGORITHMS.values()],
        bases=(RunConfig,), namespace={"__module__": __name__})


FinetuneConfig = finetune_config_class()


def run_config(cfg: RunConfig, algorithm_config) -> RunConfig:
    """The config as a run used it: its algorithm's section as resolved (`algorithm.cfg`), no other section."""
    sections = {cls.section() for cls in ALGORITHMS.values()}
    chosen = ALGORITHMS[cfg.algo].section()
    fields = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name not in sections}
    section = type(algorithm_config)
    ran = dataclasses.make_dataclass("RunConfig", [(chosen, section, field(default_factory=section))], bases=(RunConfig,))
    return ran(**fields, **{chosen: algorithm_config})
