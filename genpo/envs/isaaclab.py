"""IsaacLab 3.0 adapter: ManagerBasedRLEnv / DirectRLEnv (torch, on the sim device) as a BatchedEnv.

The IsaacLab contract it relies on (tests run it against the real IsaacLab 3.0 Cartpole on the CPU, and
against tests/genpo/isaaclab_contract.py through fake isaaclab modules):

    obs_dict, extras = env.reset(seed=...)
    obs_dict, reward, terminated, truncated, extras = env.step(actions)   # all (num_envs, ...) tensors

Envs reset themselves inside step(): the returned obs of an ended env already belongs to its new
episode. `terminated` is a terminal state, `truncated` the time limit (time-out termination terms).
extras["log"] holds aggregated episode terms of the envs reset in that step (it is only rewritten when
some env resets, so the adapter reads it only on those steps). The policy reads obs_dict["policy"].

What this adapter adds:
- Each env runs inside its own isaaclab.app.launch_simulation(env_cfg, ...) (kitless for Newton physics:
  no Isaac Sim; AppLauncher in 3.0 needs Kit and raises SystemExit without it, which becomes a clear
  RuntimeError here); gym.make(task_id, cfg=parse_env_cfg(task_id, device, num_envs)) with
  env_cfg.seed = EnvConfig.seed (seed + rank from the runner). close() closes the env, then the launch.
  Before isaaclab_tasks is imported, ISAACSIM_ASSET_ROOT / WARP_CACHE_PATH point at the project's asset
  mirror and kernel cache unless the user set them (genpo.envs.isaaclab_assets).
- Task ids are resolved against the registered ids through genpo.envs.tasks (2.x "-v0" <-> 3.x names).
- random_initial_episode_length (env kwarg): after reset, each env's episode_length_buf is drawn
  uniformly in [0, max_episode_length) (rsl_rl's init_at_random_ep_len), so time-outs do not all
  fall on the same step.
- Action clipping: `clip_actions` (env kwargs) like RslRlVecEnvWrapper's: a float c clips to [-c, c],
  None disables clipping; also accepted: a (low, high) pair. Default 1.0 (manager-based action spaces
  are unbounded; rsl_rl's own default is None, rl_games's IsaacLab configs use 1.0). Bounded Box
  action spaces are also clipped to their own bounds.
- Final observations: IsaacLab 3.x envs with cfg.compute_final_obs=True put the pre-reset observation
  groups in extras["final_obs"]; it is used when present (the launcher turns the flag on where the cfg
  has it). IsaacLab 2.x gives none: then final_obs is the observation returned by the step that ended
  the episode, i.e. the NEW episode's first observation. That biases the bootstrap value of truncated
  episodes (V(s_0 of the next episode) instead of V(s_T)); it is what rsl_rl does too.
- Finite-horizon tasks (env.cfg.is_finite_horizon=True): a time-out is part of the MDP, so it is
  reported as terminated (no bootstrap), as rsl_rl's wrapper does by not sending time_outs.
- Action chunks (k = action_steps): k env.step calls. EnvStep.reward holds, per env, the rewards up to
  and including its first done inside the chunk; later rewards of that chunk belong to the env's NEW
  episode (counted in that episode's statistics, not in EnvStep.reward). terminated/truncated/final_obs
  come from that first done. EnvStep.obs is the obs after the k-th step, so after a mid-chunk reset it
  is a few steps into the new episode rather than its first observation. If an env ends twice inside
  one chunk (episodes shorter than k), only the first episode's statistics are reported.
- Statistics: per-env return and length (env steps) are tracked here; success per env from a
  termination term (env kwarg `success_term`, read with termination_manager.get_term) where given,
  else NaN. extras["log"] (aggregated, e.g. "Episode_Reward/...", "Episode_Termination/...") is
  collected from the steps where envs reset; pop_episode_log() returns their means since the last call.
- Seeding: IsaacLab has one RNG for all envs; env_cfg.seed seeds it at construction and reset(seed)
  reseeds it (envs cannot be seeded seed + j individually).

Env kwargs (EnvConfig.kwargs) read here: clip_actions, success_term, obs_group ("policy"),
random_initial_episode_length, obs_dim/action_dim (declared dims, checked against the env). The rest go
to gym.make.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .base import BatchedEnv, EnvConfig, EnvStep
from .episodes import ChunkEpisodes
from .isaaclab_assets import configure_isaaclab_paths
from .tasks import isaaclab_task_dims, resolve_isaaclab_task

ISAACLAB_MISSING = (
    "The 'isaaclab' env backend needs IsaacLab 3.0 (`pip install -e \".[isaaclab]\"`, Python 3.12), which could "
    "not be imported here"
)
KIT_NEEDED = (
    "{task}: this configuration needs Isaac Sim (Kit), which is not installed (IsaacLab stopped with SystemExit). "
    "Newton physics runs without it: keep the task's default physics (newton_mjwarp) and no Kit cameras or "
    "visualizer, or install Isaac Sim on an NVIDIA GPU machine"
)


def open_isaaclab_env(cfg: EnvConfig, closing: contextlib.ExitStack, **gym_kwargs) -> tuple[str, Any]:
    """Make the IsaacLab env of `cfg` inside its own simulation launch; returns (registered task id, env).

    The launch (isaaclab.app.launch_simulation, kitless for Newton) and the env are entered on `closing`,
    so closing it closes the env, then the simulation. The asset mirror and the Warp kernel cache are
    configured first (genpo.envs.isaaclab_assets), before isaaclab_tasks is imported.
    """
    configure_isaaclab_paths()
    try:
        import gymnasium as gym
        import isaaclab_tasks  # noqa: F401 - registers the Isaac-* task ids
        from isaaclab.app import launch_simulation
        from isaaclab_tasks.utils.parse_cfg import parse_env_cfg
    except ImportError as err:
        raise ImportError(f"{ISAACLAB_MISSING}: {err}") from err
    task = resolve_isaaclab_task(cfg.task, list(gym.registry.keys()))
    env_cfg = parse_env_cfg(task, device=cfg.device, num_envs=cfg.num_envs)
    if hasattr(env_cfg, "compute_final_obs"):  # manager-based envs: terminal obs in extras["final_obs"]
        env_cfg.compute_final_obs = True
    if cfg.seed is not None:
        env_cfg.seed = cfg.seed
    if cfg.max_episode_steps is not None:
        step_dt = env_cfg.sim.dt * env_cfg.decimation
        # max_episode_length = ceil(episode_length_s / step_dt): half a step below gives exactly N
        env_cfg.episode_length_s = (cfg.max_episode_steps - 0.5) * step_dt
    try:
        closing.enter_context(launch_simulation(env_cfg, {"device": cfg.device, "visualizer": []}))
    except SystemExit:
        raise RuntimeError(KIT_NEEDED.format(task=task)) from None
    try:
        env = gym.make(task, cfg=env_cfg, **gym_kwargs)
        closing.callback(env.close)
        env.reset()  # IsaacLab 3.0's first reset after make drops the sampled joint velocities; later ones are exact
    except BaseException:
        closing.close()
        raise
    return task, env


DEFAULT_CLIP_ACTIONS = 1.0
_MAX_LOGS = 10_000  # extras["log"] entries kept between pop_episode_log() calls


class IsaacLabEnv(BatchedEnv):
    """BatchedEnv over one IsaacLab env (at most one per process: IsaacLab has one simulation context)."""

    single_instance = True
    renders_offscreen = False  # IsaacLab records video through its camera pipeline, which needs Isaac Sim

    def __init__(self, cfg: EnvConfig):
        options = dict(cfg.kwargs)
        clip = options.pop("clip_actions", DEFAULT_CLIP_ACTIONS)
        self.success_term: str | None = options.pop("success_term", None)
        self.obs_group: str = options.pop("obs_group", "policy")
        self.random_episode_length: bool = bool(options.pop("random_initial_episode_length", False))
        declared = (options.pop("obs_dim", None), options.pop("action_dim", None))
        self._closing = contextlib.ExitStack()
        self.task, self.env = open_isaaclab_env(cfg, self._closing, **options)
        try:
            self._describe(cfg, clip, declared)
        except BaseException:  # the one simulation of this process must not outlive a failed constructor
            self._closing.close()
            raise

    def _describe(self, cfg: EnvConfig, clip, declared: tuple) -> None:
        """Sizes, devices, action bounds and statistics buffers of the opened env (checked against cfg)."""
        base = self.env.unwrapped
        self.num_envs = int(base.num_envs)
        if self.num_envs != cfg.num_envs:
            raise ValueError(f"{self.task}: asked for {cfg.num_envs} envs, the env has {self.num_envs}")
        self.sim_device = torch.device(base.device)
        self.device = torch.device(cfg.device)
        self.action_steps = cfg.action_steps
        self.finite_horizon = bool(getattr(getattr(base, "cfg", None), "is_finite_horizon", False))
        if self.success_term is not None and not hasattr(base, "termination_manager"):
            raise ValueError(f"{self.task}: success_term={self.success_term!r} needs a manager-based env "
                             "(termination_manager.get_term); this env has no termination manager")

        self.obs_dim = self._obs_dim(base)
        self.action_dim = self._action_dim(base)
        known = (int(declared[0]), int(declared[1])) if None not in declared else isaaclab_task_dims(cfg.task)
        if known is not None and known != (self.obs_dim, self.action_dim):
            raise ValueError(f"{self.task}: env has (obs_dim, action_dim) = {(self.obs_dim, self.action_dim)}, "
                             f"but {known} was declared (env.kwargs obs_dim/action_dim) or is listed in "
                             "genpo.envs.tasks.TASK_DIMS; declare the env's real dims in env.kwargs")

        low, high = self._space_bounds(base)
        if clip is not None:
            c_low, c_high = (-float(clip), float(clip)) if np.isscalar(clip) else clip
            low = np.maximum(low, np.broadcast_to(np.asarray(c_low, dtype=np.float32), low.shape))
            high = np.minimum(high, np.broadcast_to(np.asarray(c_high, dtype=np.float32), high.shape))
        self.action_low = torch.as_tensor(low, dtype=torch.float32, device=self.device)
        self.action_high = torch.as_tensor(high, dtype=torch.float32, device=self.device)
        self._low = self.action_low.to(self.sim_device)
        self._high = self.action_high.to(self.sim_device)

        self._episodes = ChunkEpisodes(self.num_envs, self.obs_dim, self.sim_device)
        self._logs: list[dict[str, Tensor]] = []

    # ---- protocol ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def evaluation(self):
        """Evaluate in the training envs (one IsaacLab env per process) without moving their curricula:
        the curriculum manager is paused, common_step_counter (which curriculum terms read) is restored
        afterwards, resets inside do not randomise episode lengths, and the episode logs of evaluation
        episodes are not reported as training ones. Interval events keep running on their own timers."""
        base = self.env.unwrapped
        training_logs, self._logs = self._logs, []
        counter = getattr(base, "common_step_counter", None)
        manager = getattr(base, "curriculum_manager", None)
        random_length, self.random_episode_length = self.random_episode_length, False
        compute = getattr(manager, "compute", None)
        if manager is not None:
            manager.compute = lambda *args, **kwargs: None
        try:
            yield self
        finally:
            self.random_episode_length = random_length
            self._logs = training_logs
            if manager is not None:
                manager.compute = compute
            if counter is not None:
                base.common_step_counter = counter

    def reset(self, seed: int | None = None) -> Tensor:
        obs_dict, _ = self.env.reset(seed=seed) if seed is not None else self.env.reset()
        self._episodes.reset()
        if self.random_episode_length:  # rsl_rl's init_at_random_ep_len: spread the first time-outs
            base = self.env.unwrapped
            base.episode_length_buf = torch.randint_like(base.episode_length_buf, high=int(base.max_episode_length))
        return self._policy_obs(obs_dict).to(self.device)

    def step(self, actions: Tensor) -> EnvStep:
        actions = self.check_actions(actions)
        actions = torch.clamp(actions.detach().to(self.sim_device, torch.float32), self._low, self._high)

        B, dev = self.num_envs, self.sim_device
        episodes = self._episodes
        episodes.start_chunk()
        success = None if self.success_term is None else (
            lambda: self.env.unwrapped.termination_manager.get_term(self.success_term).to(dev).reshape(B))
        for i in range(self.action_steps):
            obs_dict, reward, term, trunc, extras = self.env.step(actions[:, i])
            reward = reward.to(dev, torch.float32).reshape(B)
            term = term.to(dev).bool().reshape(B)
            trunc = trunc.to(dev).bool().reshape(B)
            if self.finite_horizon:
                term, trunc = term | trunc, torch.zeros_like(trunc)
            else:
                trunc = trunc & ~term
            final_obs = lambda: self._final_obs(extras, self._policy_obs(obs_dict), term | trunc)
            if bool(episodes.record(reward, term, trunc, final_obs, success).any()):
                log = extras.get("log") if isinstance(extras, dict) else None
                if log and len(self._logs) < _MAX_LOGS:
                    self._logs.append({k: torch.as_tensor(v).detach().float().mean() for k, v in log.items()})
        return episodes.finish(self._policy_obs(obs_dict), self.device)

    def pop_episode_log(self) -> dict[str, float]:
        """Means of IsaacLab's extras["log"] terms over the steps with resets since the last call."""
        keys: dict[str, list[Tensor]] = {}
        for log in self._logs:
            for k, v in log.items():
                keys.setdefault(k, []).append(v)
        self._logs = []
        return {k: torch.stack(v).mean().item() for k, v in keys.items()}

    def render(self) -> np.ndarray | None:
        if getattr(self.env, "render_mode", None) != "rgb_array":
            return None
        frame = self.env.render()
        return None if frame is None else np.asarray(frame)

    def close(self) -> None:
        """Closes the env, then its simulation launch."""
        self._closing.close()

    # ---- helpers ----------------------------------------------------------------------------
    def _policy_obs(self, obs_dict) -> Tensor:
        obs = obs_dict[self.obs_group] if not isinstance(obs_dict, Tensor) else obs_dict
        if not isinstance(obs, Tensor):
            raise TypeError(f"{self.task}: obs_dict[{self.obs_group!r}] is {type(obs).__name__}, expected one "
                            "concatenated tensor (set concatenate_terms=True for that observation group)")
        # a copy: IsaacLab may reuse its buffers in place, and the rollout keeps this tensor
        return obs.to(self.sim_device, torch.float32).reshape(self.num_envs, -1).clone()

    def _final_obs(self, extras, obs: Tensor, done: Tensor) -> Tensor:
        """Terminal obs of the envs that ended in this step: extras["final_obs"] (3.x) else obs (2.x)."""
        final = extras.get("final_obs") if isinstance(extras, dict) else None
        if final is None:
            return obs
        if isinstance(final, dict) or hasattr(final, "keys"):
            final = final[self.obs_group]
        if isinstance(final, Tensor):
            return final.to(self.sim_device, torch.float32).reshape(self.num_envs, -1)
        out = obs.clone()  # per-env sequence (None where not ended)
        for j in torch.nonzero(done).flatten().tolist():
            value = final[j]
            if isinstance(value, dict):
                value = value[self.obs_group]
            if value is not None:
                out[j] = torch.as_tensor(value, device=self.sim_device, dtype=torch.float32).reshape(-1)
        return out

    def _obs_dim(self, base) -> int:
        space = getattr(base, "single_observation_space", None)
        try:
            return int(space[self.obs_group].shape[-1])
        except (TypeError, KeyError, AttributeError, IndexError):
            obs_dict, _ = self.env.reset()
            return int(self._policy_obs(obs_dict).shape[-1])

    def _action_dim(self, base) -> int:
        manager = getattr(base, "action_manager", None)
        if manager is not None and hasattr(manager, "total_action_dim"):
            return int(manager.total_action_dim)
        return int(np.prod(base.single_action_space.shape))

    def _space_bounds(self, base) -> tuple[np.ndarray, np.ndarray]:
        space = getattr(base, "single_action_space", None)
        low = np.full(self.action_dim, -np.inf, dtype=np.float32)
        high = np.full(self.action_dim, np.inf, dtype=np.float32)
        if space is not None and hasattr(space, "low") and np.size(space.low) == self.action_dim:
            low = np.asarray(space.low, dtype=np.float32).reshape(-1)
            high = np.asarray(space.high, dtype=np.float32).reshape(-1)
        return low, high


def make_isaaclab_env(cfg: EnvConfig, task: str) -> IsaacLabEnv:
    """The BACKENDS adapter: IsaacLab takes its options from cfg.kwargs (the task id is resolved against
    the running IsaacLab's registry inside, see open_isaaclab_env)."""
    return IsaacLabEnv(cfg)
