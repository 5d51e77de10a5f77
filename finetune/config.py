"""Typed fine-tuning configs. `configs/finetune.yaml` + groups task=, algo= + key=value overrides."""

from __future__ import annotations

from dataclasses import dataclass, field

from genpo.task import TaskConfig


@dataclass
class PPOConfig:
    """The one PPO harness shared by every algorithm."""

    iterations: int = 40
    steps_per_iter: int = 128  # policy steps (action chunks) per env per iteration
    epochs: int = 5
    minibatch_size: int = 256
    gamma: float = 0.99  # per policy step (one action chunk)
    gae_lambda: float = 0.95
    clip: float = 0.2
    value_clip: float = 0.0  # > 0 clips the value update around the rollout value
    value_coef: float = 0.5
    max_grad_norm: float = 1.0
    actor_lr: float = 1e-4
    critic_lr: float = 1e-3
    target_kl: float = 0.01  # adaptive actor LR (rsl_rl rule) on the k3 KL estimate; 0 disables
    min_lr: float = 1e-6
    max_lr: float = 1e-2
    kl_early_stop: float = 0.0  # stop the epochs once KL exceeds this; 0 disables
    critic_warmup_iters: int = 2  # value-only iterations before the actor moves
    normalize_advantages: bool = True
    reward_scaling: bool = True  # divide rewards by a running std of the discounted return
    bootstrap_truncated: bool = True  # False: treat time limits as terminal (ReinFlow/DPPO behaviour)
    ratio_check_tol: float = 1e-5  # |ratio - 1| allowed on the first minibatch at theta_old
    critic_hidden: list[int] = field(default_factory=lambda: [256, 256])


@dataclass
class GenPOppConfig:
    num_steps: int = 0  # N flow steps; 0 keeps the checkpoint's
    sigma: float = 0.9
    init: str = "pretrained"  # pretrained (B) | independent (A, GenPO-style, for training from scratch)
    coefficient: str = "consistent"  # consistent | dt
    action_noise: float = 0.08  # calibrate tau so the std of x_N caused by the history noise is this
    tau: float = 0.0  # > 0: use this tau instead of calibrating
    learn_tau: bool = False


@dataclass
class PolicySource:
    path: str = ""  # a policy directory; empty: the task's shipped checkpoint
    from_scratch: bool = False  # fresh velocity network + independent-pair init (no checkpoint)
    hidden_dim: int = 256  # from scratch only
    num_blocks: int = 3
    num_steps: int = 10


@dataclass
class FinetuneConfig:
    task: TaskConfig = field(default_factory=TaskConfig)
    algo: str = "genpopp"
    policy: PolicySource = field(default_factory=PolicySource)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    genpopp: GenPOppConfig = field(default_factory=GenPOppConfig)
    seed: int = 0
    eval_episodes: int = 8
    eval_every: int = 10  # iterations between evaluations (and `best` checkpoint updates); 0: only at the ends
    output_dir: str = ""  # default runs/finetune/<task>-<algo>-s<seed>-<time>
    resume: bool = False  # continue the run in output_dir from its `last` checkpoint
    save_video: bool = True  # GIF of one evaluation episode where the backend renders off-screen
    threads: int = 0  # torch intra-op threads per process; 0: torch's default
