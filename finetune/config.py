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
    sample_repeats: int = 1  # each epoch walks the buffer this many times (ReinFlow's repeat_samples: 10)
    lr_cycle: int = 0  # > 0: cosine actor/critic LR restarted every this many iterations (ReinFlow); disables the KL rule
    lr_warmup: int = 0  # with lr_cycle: linear warm-up iterations at the start of each cycle
    actor_lr_floor: float = 1e-5  # with lr_cycle: the cosine's minimum
    critic_lr_floor: float = 1e-4
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
class ReinFlowConfig:
    """ReinFlow (baselines.md): noisy Euler chain with a learned, bounded noise network."""

    num_steps: int = 4  # K Euler steps (their locomotion K = 4); 0 keeps the checkpoint's N
    min_std: float = 0.10  # noise-network output range (their Hopper/Walker: 0.10 - 0.24)
    max_std: float = 0.24
    max_std_hold: float = 0.35  # hold max_std for this fraction of training, then cosine-decay it ...
    max_std_decay: float = 0.7  # ... to min_std * (1 - this) + max_std * this (1.0: no decay)
    noise_hidden: list[int] = field(default_factory=lambda: [64, 64])
    noise_time_dim: int = 16
    mean_clip: float = 1.0  # clip every step's mean to +-this (their denoised_clip_value); 0: off
    noise_clip: float = 3.0  # clip the step noise to +-this std
    final_clip: float = 1.0  # clip the action to +-this
    include_initial: bool = True  # log N(x_0) in the chain log-prob and entropy (account_for_initial_stochasticity)
    average_log_prob: bool = True  # their code: divide by (K + 1) and by the action entries; False: summed (paper)
    log_prob_min: float = -1.0  # averaged form only: clamp the log-prob to [min, max] (their logprob_min/max)
    log_prob_max: float = 1.0
    entropy_coef: float = 0.03
    bc_coef: float = 0.0  # > 0: W2 term, MSE to the frozen pretrained flow's deterministic action


@dataclass
class DPPOConfig:
    """DPPO (baselines.md): the last denoising steps of a DDPM/DDIM chain as an inner MDP."""

    ddim_steps: int = 0  # 0: DDPM over every trained timestep (their locomotion: 20); > 0: DDIM steps
    eta: float = 1.0  # DDIM only
    ft_denoising_steps: int = 10  # fine-tuned last steps (earlier ones use a frozen copy); 0: all
    min_sampling_std: float = 0.1
    min_logprob_std: float = 0.1
    x0_clip: float = 1.0
    noise_clip: float = 3.0
    final_clip: float = 0.0
    log_prob_min: float = -5.0  # per-entry clamp of transition log-probs (theirs: [-5, 2])
    log_prob_max: float = 2.0
    executed_only: bool = True  # log-probs over the executed actions of the chunk only (their reward_horizon)
    gamma_denoising: float = 0.99  # advantage weight gamma^(steps to the chain's end)
    clip_base: float = 0.01  # clip range of the earliest fine-tuned step, rising to ppo.clip at the last
    clip_rate: float = 3.0  # exponential rate of that rise


@dataclass
class FPOConfig:
    """FPO++ (baselines.md): ratios from conditional flow-matching losses at stored (tau_i, eps_i)."""

    num_steps: int = 0  # Euler steps of the sampler; 0 keeps the checkpoint's N
    num_mc: int = 8  # Monte-Carlo (tau, eps) pairs per sample, one ratio each
    aspo: bool = True  # PPO clip for A >= 0, SPO penalty for A < 0; False: PPO clip everywhere (vanilla FPO)
    loss_reduction: str = "mean"  # the CFM loss over action entries: mean | sum


@dataclass
class GaussianPPOConfig:
    """Gaussian PPO on a BC-pretrained Gaussian MLP policy (algo=ppo)."""

    init_std: float = 0.1  # > 0: reset the pretrained std to this at the start; 0: keep it
    learn_std: bool = True
    min_std: float = 0.01
    max_std: float = 1.0
    entropy_coef: float = 0.0
    executed_only: bool = True  # log-prob over the executed actions of the chunk (exact marginal)


@dataclass
class PolicySource:
    path: str = ""  # a policy directory; empty: the task's shipped checkpoint
    from_scratch: bool = False  # fresh velocity network + independent-pair init (no checkpoint)
    hidden_dim: int = 256  # from scratch only
    num_blocks: int = 3
    num_steps: int = 10
    diffusion_grid: str = ""  # LeRobot Diffusion Policies: time labels of the DDIM grid ("ddim" default, "ddim_start", "uniform")


@dataclass
class FinetuneConfig:
    task: TaskConfig = field(default_factory=TaskConfig)
    algo: str = "genpopp"
    policy: PolicySource = field(default_factory=PolicySource)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    genpopp: GenPOppConfig = field(default_factory=GenPOppConfig)
    reinflow: ReinFlowConfig = field(default_factory=ReinFlowConfig)
    dppo: DPPOConfig = field(default_factory=DPPOConfig)
    fpo: FPOConfig = field(default_factory=FPOConfig)
    gaussian: GaussianPPOConfig = field(default_factory=GaussianPPOConfig)
    seed: int = 0
    eval_episodes: int = 8
    eval_every: int = 10  # iterations between evaluations (and `best` checkpoint updates); 0: only at the ends
    output_dir: str = ""  # default runs/finetune/<task>-<algo>-s<seed>-<time>
    resume: bool = False  # continue the run in output_dir from its `last` checkpoint
    save_video: bool = True  # GIF of one evaluation episode where the backend renders off-screen
    threads: int = 1  # torch intra-op threads per process (1 is fastest for these small nets on CPU); 0: torch's default
    processes: int = 0  # expected world size (e.g. 2 with configs/accelerate/cpu_2proc.yaml): the run stops at start if
    # accelerate started another number of ranks (`accelerate launch --cpu --num_processes 2` starts ONE); 0: any
