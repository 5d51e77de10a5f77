"""Wiring of a fine-tuning run: config -> checkpoint -> envs -> algorithm -> PPO -> checkpoints -> report."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, gather_object
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from finetune.algos import Algorithm, algorithm_class
from finetune.config import RunConfig, run_config
from finetune.conversion import check_conversion, conversion_text, dataset_observations, start_observations, zero_sampling_actions
from finetune.ppo import PPO, ActorCritic
from finetune.report import write_report
from genpo.checkpoint import load_policy
from genpo.config import resolve_path, to_yaml
from genpo.envs import env_spec, make_env
from genpo.io import atomic_directory
from genpo.metrics import MetricsLogger
from genpo.policies import ChunkPolicy, FlowPolicy, FlowPolicyConfig, GaussianPolicy, GaussianPolicyConfig
from genpo.rollout import EvalResult, evaluate
from genpo.samplers import SamplerConfig

STATE_NAME = "training_state.pt"
MODEL_NAME = "actor_critic.safetensors"  # everything the algorithm and critic hold beyond the policy's own files
PREPARE_OBSERVATIONS = 65536  # dataset observations given to Algorithm.prepare (GenPO++: distillation, tau)
CONVERSION_PROBE_STEPS = 16  # policy steps per env of the pretrained policy whose states the conversion check uses
POLICY_PREFIX = "algorithm.policy."  # the policy's weights inside ActorCritic's state dict (stored once, as the policy)


def check_launch(accelerator: Accelerator, processes: int) -> None:
    """Stop before any work when the launch cannot give an exact, synchronised run."""
    if accelerator.mixed_precision != "no":
        raise ValueError(f"mixed_precision={accelerator.mixed_precision!r}: fine-tuning needs float32 (the exact "
                         "log-ratio of the samplers is lost in half precision); launch with mixed_precision 'no'")
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if accelerator.num_processes != launched or processes not in (0, accelerator.num_processes):
        raise ValueError(f"accelerate started {accelerator.num_processes} synchronised rank(s), but "
                         f"{processes or launched} were asked for; on CPU use "
                         "`ACCELERATE_USE_CPU=true accelerate launch --config_file configs/accelerate/cpu_2proc.yaml ...`")


def scratch_policy(cfg: RunConfig, obs_dim: int, action_dim: int, low: torch.Tensor, high: torch.Tensor) -> ChunkPolicy:
    """A freshly initialised policy (no checkpoint) of the kind the algorithm fine-tunes (a Gaussian MLP
    for algo=ppo, else a flow policy); actions min/max-normalised to the env bounds ([-1, 1] where the
    env gives none)."""
    task, src = cfg.task, cfg.policy
    finite = torch.isfinite(low) & torch.isfinite(high)
    low, high = torch.where(finite, low, -1.0), torch.where(finite, high, 1.0)
    shape = dict(obs_dim=obs_dim, action_dim=action_dim, horizon=task.horizon, n_action_steps=task.n_action_steps,
                 hidden_dim=src.hidden_dim, num_blocks=src.num_blocks, obs_norm="identity",
                 obs_key=task.obs_key, action_key=task.action_key)
    ones = np.ones(obs_dim, dtype=np.float32)
    stats = {
        task.obs_key: {"min": -ones, "max": ones, "mean": 0 * ones, "std": ones},
        task.action_key: {
            "min": low.numpy(),
            "max": high.numpy(),
            "mean": ((low + high) / 2).numpy(),
            "std": ((high - low) / 2).numpy(),
        },
    }
    kind = algorithm_class(cfg.algo).policy_class
    if kind is GaussianPolicy:
        policy = GaussianPolicy(GaussianPolicyConfig(**shape), stats)
    elif kind is FlowPolicy:
        policy = FlowPolicy(FlowPolicyConfig(**shape, sampler=SamplerConfig(num_steps=src.num_steps)), stats)
    else:
        raise ValueError(
            f"algo={cfg.algo} fine-tunes a {kind.__name__}, which cannot start from scratch: give a checkpoint"
        )
    policy.description = f"a freshly initialised {kind.__name__} (from scratch)"
    return policy


def start_checkpoint(cfg: RunConfig, run_dir: Path) -> Path | None:
    """The one policy directory the run starts from: its own checkpoints/last when resuming, else policy.path,
    else the task's checkpoint for the algorithm's policy kind (<task.checkpoint>_<objective> for DPPO's
    diffusion and PPO's Gaussian policies); None from scratch."""
    if cfg.resume:
        return run_dir / "checkpoints" / "last"
    if cfg.policy.from_scratch:
        return None
    if cfg.policy.path:
        return resolve_path(cfg.policy.path)
    objective = algorithm_class(cfg.algo).policy_class.objective
    if objective == "flow":
        return resolve_path(cfg.task.checkpoint)
    path = resolve_path(f"{cfg.task.checkpoint}_{objective}")
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"algo={cfg.algo} needs the {objective} checkpoint {path}; pretrain one with `python "
            f"pretrain/run.py task={cfg.task.name} objective={objective} save_to={cfg.task.checkpoint}_"
            f"{objective}`, or give policy.path="
        )
    return path


class FinetuneRun:
    """One fine-tuning run in its run directory (resumable)."""

    def __init__(self, cfg: RunConfig, argv: list[str]):
        algorithm_type = algorithm_class(cfg.algo)
        self.cfg, self.argv = cfg, argv
        self.accelerator = Accelerator(kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
        check_launch(self.accelerator, cfg.processes)
        self.is_main = self.accelerator.is_main_process
        obs_dim, action_dim = env_spec(cfg.task.env)
        self.run_dir = self.run_directory()
        start = start_checkpoint(cfg, self.run_dir)
        policy = (
            None
            if start is None
            else load_policy(
                start, obs_dim=obs_dim, action_dim=action_dim, diffusion_grid=cfg.policy.diffusion_grid or None
            )
        )
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        rank = self.accelerator.process_index
        torch.manual_seed(cfg.seed + rank)
        self.env_cfg = dataclasses.replace(
            cfg.task.env,
            action_steps=cfg.task.n_action_steps if policy is None else policy.config.n_action_steps,
            device=str(self.accelerator.device),
            seed=cfg.seed + rank,
        )
        self.env = make_env(self.env_cfg)
        if self.is_main:  # only once the start checkpoint and the env are known to work
            self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            if policy is None:
                policy = scratch_policy(cfg, obs_dim, action_dim, self.env.action_low.cpu(), self.env.action_high.cpu())
            self.source = policy.description
            policy = policy.to(self.accelerator.device)
            resumed_policy = {k: v.clone() for k, v in policy.state_dict().items()} if cfg.resume else None
            checks_conversion = policy.pretrained and not cfg.resume
            if checks_conversion:  # the pretrained policy's own zero-sampling actions, before the algorithm converts it
                probe = start_observations(policy, self.env, CONVERSION_PROBE_STEPS, cfg.seed + 1000 * rank)
                own_actions = zero_sampling_actions(policy, probe)
            algorithm = algorithm_type(policy, getattr(cfg, algorithm_type.section()))
            algorithm.prepare(self.preparation_observations(policy.config.obs_dim, rank))
            self.conversion = None
            if checks_conversion:
                self.conversion = check_conversion(own_actions, algorithm, probe, algorithm.conversion_notes()).summary()
            self.ppo = PPO(
                cfg.ppo,
                ActorCritic(algorithm, cfg.ppo.critic_hidden).to(self.accelerator.device),
                self.env,
                self.accelerator,
                cfg.seed,
            )
            self.logger = MetricsLogger(self.run_dir, enabled=self.is_main, resume=cfg.resume)
            self.best_score = -math.inf
            self.evals: dict[str, dict[str, float]] = {}
            if cfg.resume:
                self.load_checkpoint(self.run_dir / "checkpoints" / "last", resumed_policy)
            if self.is_main:
                (self.run_dir / "config.yaml").write_text(to_yaml(run_config(cfg, algorithm.cfg)))
                print(f"fine-tuning {self.source} with {cfg.algo} in {self.run_dir}")
                if self.conversion is not None:
                    print(conversion_text(self.conversion))
        except BaseException:  # a simulator (one per process for IsaacLab) must not outlive a failed start
            self.env.close()
            raise

    def preparation_observations(self, obs_dim: int, rank: int) -> torch.Tensor:
        """What Algorithm.prepare sees: observations of the task's dataset (the states the checkpoint was trained
        on), else the first reset's, repeated to 256."""
        cfg = self.cfg
        obs = dataset_observations(cfg.task, obs_dim, PREPARE_OBSERVATIONS, cfg.seed + rank)
        if obs is None:
            obs = self.env.reset(seed=cfg.seed + 1000 * rank).repeat(max(1, 256 // self.env.num_envs), 1)
        return obs.to(self.accelerator.device)

    @property
    def algorithm(self) -> Algorithm:
        return self.ppo.algorithm

    def run_directory(self) -> Path:
        cfg = self.cfg
        if cfg.output_dir:
            run_dir = resolve_path(cfg.output_dir)
        elif cfg.resume:
            raise ValueError("resume=true needs output_dir=<the run directory to continue>")
        else:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            run_dir = Path("runs/finetune") / f"{cfg.task.name}-{cfg.algo}-s{cfg.seed}-{stamp}"
        if cfg.resume and not (run_dir / "checkpoints" / "last" / STATE_NAME).is_file():
            raise FileNotFoundError(f"resume=true but {run_dir}/checkpoints/last/{STATE_NAME} does not exist")
        return run_dir

    # ---- evaluation ------------------------------------------------------------------------
    def evaluate(self) -> dict[str, float]:
        """Zero sampling, stochastic sampling and the authors' protocol; episodes split over ranks, reduced as (sum, count)."""
        cfg, accelerator = self.cfg, self.accelerator
        if cfg.eval_episodes <= 0:
            return {}
        per_rank = math.ceil(cfg.eval_episodes / accelerator.num_processes)
        # Single-instance envs (IsaacLab) evaluate in the training envs, then reset them.
        shares_env = self.env.single_instance
        env = (
            self.env
            if shares_env
            else make_env(dataclasses.replace(self.env_cfg, num_envs=min(per_rank, self.env_cfg.num_envs)))
        )
        algorithm, out = self.algorithm, {}
        protocols = {"zero": algorithm.act_for_eval, "stochastic": algorithm.act_for_eval}
        if algorithm.authors_protocol == "own":
            protocols["authors"] = lambda obs, zero, generator: algorithm.act_authors(obs, generator)
        with env.evaluation():
            for protocol, act in protocols.items():
                result = evaluate(act, env, per_rank, zero=protocol == "zero",
                                  seed=cfg.seed + 10_000 * (1 + accelerator.process_index))
                totals = accelerator.reduce(result.totals().to(accelerator.device), "sum").cpu()
                out |= EvalResult.summary_of_totals(totals, f"eval_{protocol}")
        if algorithm.authors_protocol != "own":  # the authors' protocol is the same policy as one already evaluated
            same = f"eval_{algorithm.authors_protocol}/"
            out |= {"eval_authors/" + k.removeprefix(same): v for k, v in out.items() if k.startswith(same)}
        if shares_env:
            self.ppo.obs = env.reset(seed=cfg.seed + 1000 * accelerator.process_index + self.ppo.iteration)
        else:
            env.close()
        return out

    def score(self, evals: dict[str, float]) -> float:
        key = "eval_zero/success_rate" if self.cfg.task.success_metric else "eval_zero/return_mean"
        return evals[key]

    # ---- checkpoints -----------------------------------------------------------------------
    def save_checkpoint(self, name: str) -> None:
        """In one atomic directory write: the policy's own files (a LeRobot policy directory), the rest of the
        algorithm and the critic, and every rank's training state."""
        states = gather_object([self.ppo.state_dict()])
        if not self.is_main:
            return
        rest = {
            k: v.detach().cpu().contiguous()
            for k, v in self.ppo.unwrapped.state_dict().items()
            if not k.startswith(POLICY_PREFIX)
        }
        state = {
            "ranks": states,
            "world_size": self.accelerator.num_processes,
            "best_score": self.best_score,
            "evals": self.evals,
            "source": self.source,
            "conversion": self.conversion,
        }

        def write(tmp: Path) -> None:
            self.algorithm.export_policy().write_checkpoint(tmp)
            save_file(rest, tmp / MODEL_NAME)
            torch.save(state, tmp / STATE_NAME)

        atomic_directory(self.run_dir / "checkpoints" / name, write)

    def load_checkpoint(self, directory: Path, policy_state: dict) -> None:
        """Resume: the policy's weights as loaded from `directory` (the algorithm may have rebuilt its sampler
        parameters since), the rest of the actor-critic and this rank's training state."""
        state = torch.load(directory / STATE_NAME, map_location="cpu", weights_only=True)
        if state["world_size"] != self.accelerator.num_processes:
            raise ValueError(f"{directory} was written by {state['world_size']} processes; resume with the same number")
        model = self.ppo.unwrapped
        model.algorithm.policy.load_state_dict(policy_state)
        rest = load_file(directory / MODEL_NAME, device=str(self.accelerator.device))
        missing, unexpected = model.load_state_dict(rest, strict=False)
        missing = [k for k in missing if not k.startswith(POLICY_PREFIX)]
        if missing or unexpected:
            raise ValueError(
                f"{directory / MODEL_NAME} does not match algo={self.cfg.algo}: missing {missing[:5]}, "
                f"unexpected {unexpected[:5]}"
            )
        self.ppo.load_state_dict(state["ranks"][self.accelerator.process_index])
        self.best_score, self.evals = state["best_score"], state["evals"]
        self.source, self.conversion = state["source"], state["conversion"]
        self.logger.truncate(self.ppo.iteration)
        if self.is_main:
            print(f"resumed {self.run_dir} at iteration {self.ppo.iteration}")

    # ---- the loop --------------------------------------------------------------------------
    def check_finite(self) -> None:
        bad = [name for name, p in self.ppo.unwrapped.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            raise FloatingPointError(f"non-finite parameters after the update: {bad[:5]}")

    def train(self) -> dict:
        """Evaluate, iterate to ppo.iterations (evaluating and saving), report; the env is closed either way."""
        try:
            return self.run_iterations()
        except BaseException:
            self.env.close()
            raise

    def run_iterations(self) -> dict:
        cfg, start, it = self.cfg, time.time(), 0
        report = self.run_dir / "report.json"
        if cfg.resume and self.ppo.iteration >= cfg.ppo.iterations and report.is_file():
            print(f"{self.run_dir} finished at iteration {self.ppo.iteration}: nothing to resume, its report is kept")
            self.env.close()
            return json.loads(report.read_text())
        try:
            if "pretrained" not in self.evals:
                self.evals["pretrained"] = self.evaluate()
                self.logger.log(0, {"env_steps": 0, **self.evals["pretrained"]})
            bar = tqdm(total=cfg.ppo.iterations, initial=self.ppo.iteration, desc=f"{cfg.algo} {cfg.task.name}",
                       disable=not self.is_main, dynamic_ncols=True, mininterval=2.0)
            while self.ppo.iteration < cfg.ppo.iterations:
                it = self.ppo.iteration + 1
                metrics = self.run_iteration(it, start)
                bar.set_postfix({k.split("/")[-1]: f"{metrics[k]:.3g}" for k in ("train/return", "eval_zero/return_mean",
                                                                                 "ppo/kl") if k in metrics})
                bar.update(1)
            bar.close()
        except FloatingPointError as err:  # non-finite actions, losses or parameters: stop, keep the last good state
            last = self.run_dir / "checkpoints" / "last"
            kept = f"the last good checkpoint is {last}" if last.is_dir() else "no checkpoint was written"
            where = f"iteration {it}" if it else "the evaluation of the start policy"
            raise SystemExit(f"training stopped at {where}: {err}; {kept}") from None
        return self.finish(time.time() - start)

    def run_iteration(self, it: int, start: float) -> dict[str, float]:
        """PPO iteration `it`, then (every eval_every and at the end) evaluation and `best`, then `last`."""
        cfg = self.cfg
        metrics = self.ppo.iterate()
        self.check_finite()
        metrics["time/elapsed_s"] = time.time() - start
        if (cfg.eval_every and it % cfg.eval_every == 0) or it == cfg.ppo.iterations:
            evals = self.evaluate()
            metrics |= evals
            if evals and self.score(evals) > self.best_score:
                self.best_score = self.score(evals)
                self.save_checkpoint("best")
            self.evals["final"] = evals
        self.logger.log(it, metrics)
        self.save_checkpoint("last")
        return metrics

    def finish(self, wall_time: float) -> dict:
        summary = {
            "algo": self.cfg.algo,
            "task": self.cfg.task.name,
            "seed": self.cfg.seed,
            "source": self.source,
            "conversion": self.conversion,
            "authors_protocol": self.algorithm.authors_protocol_text,
            "pretrained": self.evals["pretrained"],
            "final": self.evals.get("final", self.evals["pretrained"]),
            "env_steps": self.ppo.env_steps,
            "iterations": self.ppo.iteration,
            "processes": self.accelerator.num_processes,
            "wall_time_s": wall_time,
            "train_time_s": self.ppo.train_time,
            "checkpoint": str(self.run_dir / "checkpoints" / "last"),
            "policy_config": self.algorithm.export_policy().config.to_json_dict(),
        }
        if self.is_main:
            print(write_report(self.run_dir, summary, self.logger.rows))
            if self.cfg.save_video:
                self.save_video()
        self.logger.close()
        self.env.close()
        return summary

    @torch.no_grad()
    def save_video(self) -> None:
        """One zero-sampling evaluation episode as eval.gif, where the backend renders off-screen."""
        if not self.env.renders_offscreen or self.env.single_instance:
            print(f"no evaluation video: {type(self.env).__name__} does not render off-screen in a second instance")
            return
        env_cfg = dataclasses.replace(
            self.env_cfg, num_envs=1, kwargs={**self.env_cfg.kwargs, "render_mode": "rgb_array"}
        )
        try:
            env = make_env(env_cfg)
        except Exception as err:  # noqa: BLE001 - rendering is optional; say why and go on
            print(f"no evaluation video: {err}")
            return
        frames, obs = [], env.reset(seed=self.cfg.seed)
        for i in range(200):  # at most 200 policy steps, every other one rendered: a short clip, ~20 s on CPU
            frame = env.render() if i % 2 == 0 else frames[-1]
            if frame is None:
                break
            frames.append(frame)
            step = env.step(self.algorithm.act_for_eval(obs, True, None))
            if step.done.any():
                break
            obs = step.obs
        env.close()
        if frames:
            imageio.mimsave(self.run_dir / "eval.gif", frames[::2], duration=1000 / 10)
            print(f"evaluation video: {self.run_dir / 'eval.gif'}")
        else:
            print("no evaluation video: the env backend cannot render off-screen here")
