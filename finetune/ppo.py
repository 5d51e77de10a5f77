"""The one PPO harness: rollout, GAE, epochs x minibatches, clipped surrogate, adaptive LR.

Every algorithm (GenPO++, ReinFlow, DPPO, ...) plugs in through `finetune.algos.base.Algorithm`.
Training-time computation goes through `ActorCritic.forward` (the module Accelerate wraps in DDP),
so gradients are all-reduced; rollouts use the unwrapped module under no_grad.
"""

from __future__ import annotations

import math
import resource
import time
from dataclasses import dataclass

import torch
from accelerate.utils import gather_object, send_to_device
from torch import Tensor, nn

from finetune.algos.base import Algorithm, Evaluation
from finetune.buffer import RewardScaler, Rollout, compute_gae
from finetune.config import PPOConfig
from genpo.envs.base import BatchedEnv, EnvStep
from genpo.networks import mlp


class RatioCheckError(RuntimeError):
    """The PPO ratio is not 1 at theta_old: sampling and log-prob disagree."""


class ActorCritic(nn.Module):
    def __init__(self, algorithm: Algorithm, critic_hidden: list[int]):
        super().__init__()
        self.algorithm = algorithm
        self.critic = mlp([algorithm.policy.config.obs_dim, *critic_hidden, 1])

    def value(self, obs: Tensor) -> Tensor:
        return self.critic(self.algorithm.policy.obs_normalizer.normalize(obs)).squeeze(-1)

    def forward(self, obs: Tensor, stored: Tensor | None = None) -> tuple[Evaluation | None, Tensor]:
        """Everything the update differentiates, in one call; stored=None evaluates the critic only."""
        return (None if stored is None else self.algorithm.evaluate(obs, stored)), self.value(obs)


@dataclass
class EpisodeStats:
    """Finished-episode sums and counts on this rank (reduce across ranks as (sum, count) pairs)."""

    return_sum: float = 0.0
    length_sum: float = 0.0
    count: float = 0.0
    success_sum: float = 0.0
    success_count: float = 0.0

    def add(self, step: EnvStep) -> None:
        ended = ~torch.isnan(step.episode_return)
        self.return_sum += step.episode_return[ended].sum().item()
        self.length_sum += step.episode_length[ended].sum().item()
        self.count += ended.sum().item()
        has_success = ~torch.isnan(step.success)
        self.success_sum += step.success[has_success].sum().item()
        self.success_count += has_success.sum().item()

    def as_tensor(self) -> Tensor:
        return torch.tensor(
            [self.return_sum, self.length_sum, self.count, self.success_sum, self.success_count], dtype=torch.float64
        )

    @staticmethod
    def summary(total: Tensor, prefix: str = "train") -> dict[str, float]:
        return_sum, length_sum, count, success_sum, success_count = total.tolist()
        out = {f"{prefix}/episodes": count}
        if count:
            out |= {f"{prefix}/return": return_sum / count, f"{prefix}/length": length_sum / count}
        if success_count:
            out[f"{prefix}/success_rate"] = success_sum / success_count
        return out


class PPO:
    def __init__(self, cfg: PPOConfig, model: ActorCritic, env: BatchedEnv, accelerator, seed: int):
        self.cfg, self.env, self.accelerator = cfg, env, accelerator
        actor_params = [p for p in model.algorithm.parameters() if p.requires_grad]
        critic_params = list(model.critic.parameters())
        actor_opt = torch.optim.Adam(actor_params, lr=cfg.actor_lr, eps=1e-5)
        critic_opt = torch.optim.Adam(critic_params, lr=cfg.critic_lr, eps=1e-5)
        self.model, self.actor_opt, self.critic_opt = accelerator.prepare(model, actor_opt, critic_opt)
        self.unwrapped: ActorCritic = accelerator.unwrap_model(self.model)
        self.actor_params, self.critic_params = actor_params, critic_params
        rank = accelerator.process_index
        self.generator = torch.Generator(device=accelerator.device).manual_seed(seed + 7919 * rank)
        self.shuffle = torch.Generator().manual_seed(seed + 104729 * rank)
        self.reward_scaler = RewardScaler(env.num_envs, cfg.gamma, cfg.reward_scaling)
        self.iteration = 0
        self.env_steps = 0  # over all ranks
        self.train_time = 0.0  # seconds spent in iterate() (rollout + update + diagnostics), evaluations excluded
        self.obs = env.reset(seed=seed + 1000 * rank)

    @property
    def algorithm(self) -> Algorithm:
        return self.unwrapped.algorithm

    # ---- rollout ----------------------------------------------------------------------------
    @torch.no_grad()
    def collect(self) -> tuple[Rollout, Tensor]:
        """Run steps_per_iter policy steps in every env; returns the rollout and reduced episode stats."""
        cfg, env, model = self.cfg, self.env, self.unwrapped
        columns: dict[str, list[Tensor]] = {
            k: []
            for k in ("obs", "stored", "log_prob", "value", "reward", "terminated", "truncated", "bootstrap_value")
        }
        stats = EpisodeStats()
        for _ in range(cfg.steps_per_iter):
            act = self.algorithm.act(self.obs, self.generator)
            value = model.value(self.obs)
            step = env.step(act.env_actions)
            truncated = step.truncated if cfg.bootstrap_truncated else torch.zeros_like(step.truncated)
            bootstrap = torch.zeros_like(value)
            if truncated.any():
                bootstrap[truncated] = model.value(step.final_obs[truncated])
            for key, item in (
                ("obs", self.obs),
                ("stored", act.stored),
                ("log_prob", act.log_prob),
                ("value", value),
                ("reward", self.reward_scaler(step.reward, step.done)),
                ("terminated", step.done & ~truncated),
                ("truncated", truncated),
                ("bootstrap_value", bootstrap),
            ):
                columns[key].append(item)
            stats.add(step)
            self.obs = step.obs
        rollout = Rollout(**{k: torch.stack(v) for k, v in columns.items()}, last_value=model.value(self.obs))
        self.env_steps += cfg.steps_per_iter * env.num_envs * env.action_steps * self.accelerator.num_processes
        return rollout, self.accelerator.reduce(stats.as_tensor().to(self.accelerator.device), "sum").cpu()

    def episode_log(self) -> dict[str, float]:
        """The env's own episode terms ("env/<term>"), each averaged over the ranks that reported it."""
        logs = gather_object([self.env.pop_episode_log()])
        keys = dict.fromkeys(k for log in logs for k in log)
        return {f"env/{k}": sum(log[k] for log in logs if k in log) / sum(k in log for log in logs) for k in keys}

    # ---- update -----------------------------------------------------------------------------
    @torch.no_grad()
    def recompute_old_log_prob(self, data: dict[str, Tensor], batches: list[Tensor]) -> Tensor:
        old = torch.empty_like(data["log_prob"])
        for index in batches:
            old[index] = self.algorithm.log_prob(data["obs"][index], data["stored"][index])
        return old

    def check_log_prob_gap(self, sampled: Tensor, recomputed: Tensor) -> float:
        """max |log p at sampling - log p recomputed from what was stored| over every rank's buffer; above
        ppo.log_prob_tol, sampling and the log-prob disagree (e.g. a time grid or a precision that differs
        between them), and training would follow a wrong ratio: stop with the gap."""
        gap = self.accelerator.reduce((recomputed - sampled).abs().max().reshape(1), "max")[0].item()
        if not gap <= self.cfg.log_prob_tol:
            raise RatioCheckError(f"the log-prob recomputed from the stored samples differs from the sampling-time one by "
                                  f"{gap:.3g} > ppo.log_prob_tol={self.cfg.log_prob_tol:g}: the sampler and its log-prob do "
                                  "not agree (time grid, precision or sampler parameters changed between them)")
        return gap

    def mean_over_ranks(self, value: Tensor) -> Tensor:
        return self.accelerator.reduce(value.detach().reshape(1), "mean")[0]

    def update(self, rollout: Rollout, train_actor: bool, probe: tuple[Tensor, Tensor, object]) -> dict[str, float]:
        """GAE, then `epochs` passes over the minibatch layout. probe = (obs, stored, snapshot) of theta_old for
        ppo.kl_measure=action (the algorithm's action-level KL after every epoch drives the adaptive LR)."""
        cfg = self.cfg
        advantages, returns = compute_gae(
            rollout.reward,
            rollout.value,
            rollout.terminated,
            rollout.truncated,
            rollout.bootstrap_value,
            rollout.last_value,
            cfg.gamma,
            cfg.gae_lambda,
        )
        data = rollout.flatten() | {"advantage": advantages.flatten(), "return": returns.flatten()}
        layout = minibatch_layout(len(data["advantage"]), self.cfg, self.shuffle)
        gap = None
        if train_actor:
            recomputed = self.recompute_old_log_prob(data, layout[0])
            gap = self.check_log_prob_gap(data["log_prob"], recomputed)
            data["log_prob"] = recomputed  # the exact old log-prob of this layout: r == 1 on the first minibatch
        sums: dict[str, float] = {}
        minibatches = 0
        for epoch, batches in enumerate(layout):
            epoch_kl = []
            for i, index in enumerate(batches):
                metrics = self.minibatch_step(
                    {k: v[index] for k, v in data.items()}, train_actor, first=(epoch == 0 and i == 0)
                )
                for key, value in metrics.items():
                    sums[key] = sums.get(key, 0.0) + value
                minibatches += 1
                epoch_kl.append(metrics.get("ppo/kl", 0.0))
            if train_actor and cfg.kl_measure == "action":
                action_kl = self.algorithm.action_kl(*probe)
                if action_kl is not None:
                    self.adapt_learning_rate(self.mean_over_ranks(torch.tensor(action_kl, device=self.accelerator.device)).item())
            if train_actor and cfg.kl_early_stop > 0 and sum(epoch_kl) / len(epoch_kl) > cfg.kl_early_stop:
                break
        out = {k: v / minibatches for k, v in sums.items()}  # means over minibatches, but for the one-off check:
        if "ppo/ratio_check" in sums:
            out["ppo/ratio_check"] = sums["ppo/ratio_check"]
        if gap is not None:
            out["ppo/log_prob_gap"] = gap
        out["ppo/epochs"] = epoch + 1
        out["ppo/explained_variance"] = explained_variance(data["value"], data["return"])
        out["ppo/actor_lr"] = self.actor_opt.param_groups[0]["lr"]
        return out

    def minibatch_step(self, mb: dict[str, Tensor], train_actor: bool, first: bool) -> dict[str, float]:
        cfg = self.cfg
        evaluation, value = self.model(mb["obs"], mb["stored"] if train_actor else None)
        value_loss = self.value_loss(value, mb)
        metrics = {"ppo/value_loss": value_loss.item()}
        loss = cfg.value_coef * value_loss
        if train_actor:
            log_ratio = evaluation.log_prob - mb["log_prob"]
            ratio = log_ratio.exp()
            if first:
                deviation = (ratio - 1).abs().max()
                metrics["ppo/ratio_check"] = deviation.item()
                if deviation > cfg.ratio_check_tol:
                    raise RatioCheckError(
                        f"|ratio - 1| = {deviation.item():.3g} > {cfg.ratio_check_tol:g} at theta_old on the "
                        "first minibatch: the log-prob does not match the sampler"
                    )
            advantage = mb["advantage"]
            if cfg.normalize_advantages and advantage.numel() > 1:
                advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
            surrogate, clipped = self.algorithm.surrogate(ratio, advantage, cfg.clip)  # PPO clip unless overridden
            policy_loss = surrogate.mean()
            loss = loss + policy_loss + evaluation.extra_loss
            kl = self.mean_over_ranks(((ratio - 1) - log_ratio).mean())
            metrics |= {
                "ppo/policy_loss": policy_loss.item(),
                "ppo/kl": kl.item(),
                "ppo/clip_fraction": clipped.float().mean().item(),
                **{k: v.item() for k, v in evaluation.metrics.items()},
            }
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss {loss.item()} ({metrics})")
        self.actor_opt.zero_grad(set_to_none=True)
        self.critic_opt.zero_grad(set_to_none=True)
        self.accelerator.backward(loss)
        metrics["ppo/critic_grad_norm"] = self.accelerator.clip_grad_norm_(self.critic_params, cfg.max_grad_norm).item()
        self.critic_opt.step()
        if train_actor:
            metrics["ppo/actor_grad_norm"] = self.accelerator.clip_grad_norm_(
                self.actor_params, cfg.max_grad_norm
            ).item()
            metrics["ppo/actor_lr_used"] = self.actor_opt.param_groups[0]["lr"]
            self.actor_opt.step()
            if cfg.kl_measure == "ratio":
                self.adapt_learning_rate(metrics["ppo/kl"])
        return metrics

    def value_loss(self, value: Tensor, mb: dict[str, Tensor]) -> Tensor:
        error = (value - mb["return"]).pow(2)
        if self.cfg.value_clip > 0:
            clipped = mb["value"] + (value - mb["value"]).clamp(-self.cfg.value_clip, self.cfg.value_clip)
            error = torch.max(error, (clipped - mb["return"]).pow(2))
        return 0.5 * error.mean()

    def adapt_learning_rate(self, kl: float) -> None:
        """rsl_rl rule on a (rank-averaged) KL: lr / 1.5 above 2 x target, lr * 1.5 below target / 2."""
        cfg = self.cfg
        if cfg.target_kl <= 0 or cfg.lr_cycle > 0:
            return
        for group in self.actor_opt.param_groups:
            if kl > 2 * cfg.target_kl:
                group["lr"] = max(group["lr"] / 1.5, cfg.min_lr)
            elif kl < cfg.target_kl / 2:
                group["lr"] = min(group["lr"] * 1.5, cfg.max_lr)

    def apply_lr_cycle(self) -> None:
        """Cosine LR with linear warm-up, restarted every lr_cycle iterations (ReinFlow's
        CosineAnnealingWarmupRestarts), for actor and critic; lr_cycle = 0 leaves the LRs alone."""
        cfg = self.cfg
        if cfg.lr_cycle <= 0:
            return
        step = self.iteration % cfg.lr_cycle
        for opt, top, floor in (
            (self.actor_opt, cfg.actor_lr, cfg.actor_lr_floor),
            (self.critic_opt, cfg.critic_lr, cfg.critic_lr_floor),
        ):
            if step < cfg.lr_warmup:
                lr = floor + (top - floor) * step / cfg.lr_warmup
            else:
                progress = (step - cfg.lr_warmup) / max(cfg.lr_cycle - cfg.lr_warmup, 1)
                lr = floor + (top - floor) * 0.5 * (1 + math.cos(math.pi * progress))
            for group in opt.param_groups:
                group["lr"] = lr

    # ---- one iteration ----------------------------------------------------------------------
    def iterate(self) -> dict[str, float]:
        start = time.perf_counter()
        self.algorithm.begin_iteration(self.iteration, self.cfg.iterations)
        self.apply_lr_cycle()
        rollout, episode_totals = self.collect()
        rollout_done = time.perf_counter()
        train_actor = self.iteration >= self.cfg.critic_warmup_iters
        probe = rollout.flatten()
        probe_obs, probe_stored = probe["obs"][: self.cfg.minibatch_size], probe["stored"][: self.cfg.minibatch_size]
        snapshot = self.algorithm.snapshot(probe_obs, probe_stored)
        update_start = time.perf_counter()
        metrics = self.update(rollout, train_actor, (probe_obs, probe_stored, snapshot))
        update_done = time.perf_counter()
        metrics |= self.algorithm.diagnostics(probe_obs, probe_stored, snapshot)
        metrics |= EpisodeStats.summary(episode_totals) | self.episode_log()
        metrics["env_steps"] = self.env_steps
        self.iteration += 1
        elapsed = time.perf_counter() - start
        self.train_time += elapsed
        samples = rollout.reward.numel()
        metrics |= {
            "time/rollout_s": rollout_done - start,
            "time/update_s": update_done - update_start,
            "time/iteration_s": elapsed,
            "time/train_s": self.train_time,
            "time/update_us_per_sample": (update_done - update_start) / samples * 1e6,
            **memory_metrics(rollout),
        }
        return metrics

    def state_dict(self) -> dict:
        """On the CPU (gathered from every rank and written by the main one; loaded with map_location)."""
        return {
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            "train_time": self.train_time,
            "actor_opt": send_to_device(self.actor_opt.state_dict(), "cpu"),
            "critic_opt": send_to_device(self.critic_opt.state_dict(), "cpu"),
            "reward_scaler": self.reward_scaler.state_dict(),
            "generator": self.generator.get_state(),
            "shuffle": self.shuffle.get_state(),
            "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.iteration, self.env_steps = state["iteration"], state["env_steps"]
        self.train_time = state.get("train_time", 0.0)
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.reward_scaler.load_state_dict(state["reward_scaler"])
        self.generator.set_state(state["generator"])
        self.shuffle.set_state(state["shuffle"])
        torch.set_rng_state(state["torch_rng"])


def minibatch_layout(size: int, cfg: PPOConfig, generator: torch.Generator) -> list[list[Tensor]]:
    """Index minibatches of a buffer of `size` samples for every epoch, fixed before the update (epoch 0's layout is
    reused to recompute the old log-probs, so r == 1 holds exactly on the first minibatch). An epoch walks the buffer
    sample_repeats times (ReinFlow) in ppo.minibatches minibatches, or in minibatches of ppo.minibatch_size."""
    repeats = max(1, cfg.sample_repeats)
    mb = math.ceil(size * repeats / cfg.minibatches) if cfg.minibatches > 0 else min(cfg.minibatch_size, size)
    return [list((torch.randperm(size * repeats, generator=generator) % size).split(mb)) for _ in range(cfg.epochs)]


def memory_metrics(rollout: Rollout) -> dict[str, float]:
    """Peak resident memory of this process (whole process: torch, envs, buffers), peak accelerator
    memory where there is one, and what the algorithm keeps per sample (stored + old log-prob)."""
    per_sample = rollout.stored[0, 0].numel() + rollout.log_prob[0, 0].numel()
    buffer_bytes = (
        rollout.stored.numel() * rollout.stored.element_size()
        + rollout.log_prob.numel() * rollout.log_prob.element_size()
    )
    out = {
        "memory/peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "memory/buffer_mb": buffer_bytes / 2**20,
        "memory/stored_floats_per_sample": float(per_sample),
    }
    if rollout.stored.is_cuda:
        out["memory/peak_gpu_mb"] = torch.cuda.max_memory_allocated(rollout.stored.device) / 2**20
    return out


def explained_variance(prediction: Tensor, target: Tensor) -> float:
    var = target.var()
    return math.nan if var == 0 else (1 - (target - prediction).var() / var).item()
