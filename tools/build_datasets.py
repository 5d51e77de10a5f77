"""Build the shipped LeRobotDataset v3.0 datasets in datasets/ from ../shared/data, offline.

    python tools/build_datasets.py pusht                 # -> datasets/pusht
    python tools/build_datasets.py pusht_split           # -> datasets/pusht_split (agent / block split, LeRobot's DP)
    python tools/build_datasets.py hopper                # -> datasets/hopper_expert, datasets/hopper_noisy_expert
    python tools/build_datasets.py walker2d              # -> datasets/walker2d_expert, datasets/walker2d_noisy_expert
    python tools/build_datasets.py hopper --calibrate    # sweep the medium noise level; prints, writes nothing
    python tools/build_datasets.py index                 # only regenerate datasets/README.md

Options: --out DIR (the directory that receives the dataset folders; default <repo>/datasets),
--shared PATH (default <repo>/../shared/data), --only {expert,medium}, --keep (do not replace an
existing dataset; by default a rebuild replaces it atomically).

Every build writes the dataset's README.md card (source, licence, command, measured numbers)
inside the atomic write, then regenerates the index table datasets/README.md from the datasets
on disk. MuJoCo datasets are deterministic given the seeds below (same numbers on every run on
the same software stack).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genpo.config import REPO_ROOT
from genpo.data import read_dataset, write_dataset

# tools/mujoco_experts.py is imported as a sibling module, also under `python -m tools.build_datasets`.
sys.path.insert(0, str(Path(__file__).resolve().parent))

DEFAULT_OUT = REPO_ROOT / "datasets"
DEFAULT_SHARED = REPO_ROOT.parent / "shared" / "data"

PUSHT_NPZ = "pusht/pusht_cchi_v7_replay_lowdim.npz"
PUSHT_FPS = 10
PUSHT_TASK = "Push the T-shaped block onto the T-shaped target."


@dataclass(frozen=True)
class MujocoSpec:
    name: str  # dataset prefix: <name>_expert, <name>_medium
    env_id: str
    policy_file: str  # under mujoco_experts/policies/
    task: str
    # Medium = expert mean action + N(0, medium_noise_std^2 I), clipped to [-1, 1]. Chosen with
    # `--calibrate` so the medium mean return is about half the expert's (see the dataset card).
    medium_noise_std: float
    expert_frames: int = 30_000  # collect whole episodes until at least this many frames
    medium_frames: int = 50_000
    expert_seed: int = 0
    medium_seed: int = 1
    calibrate_seed: int = 2
    calibration: str = ""  # what `--calibrate` measured (30 episodes per level, seed 2), for the card


MUJOCO = {
    "hopper": MujocoSpec(
        name="hopper",
        env_id="Hopper-v5",
        policy_file="Hopper.npz",
        task="Hopper-v5: hop forward as fast as possible without falling.",
        medium_noise_std=0.55,
        calibration="expert 3727.6; noise 0.45: 60.7%, 0.50: 56.6%, 0.55: 50.9%, 0.60: 47.8%, 0.70: 39.2%",
    ),
    "walker2d": MujocoSpec(
        name="walker2d",
        env_id="Walker2d-v5",
        policy_file="Walker2d.npz",
        task="Walker2d-v5: walk forward as fast as possible without falling.",
        medium_noise_std=0.55,
        calibration="expert 5149.3; noise 0.50: 65.0%, 0.55: 47.0%, 0.60: 40.3%, 0.65: 36.5%, 0.70: 25.2%",
    ),
}

INDEX_ORDER = ["pusht", "pusht_split", "hopper_expert", "hopper_noisy_expert", "walker2d_expert", "walker2d_noisy_expert"]


def _rel_cmd(target: str, extra: str = "") -> str:
    return f"python tools/build_datasets.py {target}{extra}"


def _fmt_pm(x: np.ndarray) -> str:
    return f"{np.mean(x):.1f} ± {np.std(x):.1f}"


# --------------------------------------------------------------------------------------------
# PushT
# --------------------------------------------------------------------------------------------


def load_pusht_episodes(shared: Path) -> list[dict[str, np.ndarray]]:
    path = shared / PUSHT_NPZ
    if not path.is_file():
        raise FileNotFoundError(f"PushT demonstrations not found: {path}")
    d = np.load(path)
    need = {"state", "keypoint", "action", "episode_ends"}
    if not need <= set(d.files):
        raise ValueError(f"{path}: expected arrays {sorted(need)}, found {sorted(d.files)}")
    state, keypoint, action, ends = d["state"], d["keypoint"], d["action"], d["episode_ends"]
    n = state.shape[0]
    if state.shape != (n, 5) or keypoint.shape != (n, 9, 2) or action.shape != (n, 2):
        raise ValueError(f"{path}: unexpected shapes {state.shape} {keypoint.shape} {action.shape}")
    if ends[-1] != n or np.any(np.diff(ends) <= 0):
        raise ValueError(f"{path}: episode_ends do not tile the {n} steps")
    starts = np.concatenate([[0], ends[:-1]])
    episodes = []
    for s, e in zip(starts, ends, strict=True):
        done = np.zeros(e - s, dtype=bool)
        done[-1] = True
        episodes.append(
            {
                "observation.state": state[s:e].astype(np.float32),
                "observation.environment_state": keypoint[s:e].reshape(e - s, 18).astype(np.float32),
                "action": action[s:e].astype(np.float32),
                "next.done": done,
            }
        )
    return episodes


PUSHT_NAMES = {
    "observation.state": ["agent_x", "agent_y", "block_x", "block_y", "block_angle"],
    "observation.environment_state": [f"keypoint{i}_{c}" for i in range(9) for c in "xy"],
    "action": ["target_agent_x", "target_agent_y"],
}


def pusht_card(episodes: list[dict[str, np.ndarray]]) -> str:
    lengths = np.array([len(ep["action"]) for ep in episodes])
    act = np.concatenate([ep["action"] for ep in episodes])
    angle = np.concatenate([ep["observation.state"][:, 4] for ep in episodes])
    return f"""# pusht — PushT human demonstrations (Diffusion Policy), low-dimensional

LeRobotDataset v3.0 (parquet only, no images), built offline by this project.

## Source and licence
- `shared/data/{PUSHT_NPZ}`: the original Diffusion Policy PushT demonstrations
  (`pusht_cchi_v7_replay`, Chi et al. 2023, **MIT licence**); the same arrays as the zarr release
  (`data/state`, `data/keypoint`, `data/action`, `meta/episode_ends`, checked equal) and as the
  Hugging Face dataset `lerobot/pusht`, without the images.
- Rebuild: `{_rel_cmd("pusht")}` (reads the .npz with numpy only).

## Features (fps {PUSHT_FPS})
| key | shape | meaning |
|---|---|---|
| `observation.state` | 5 | [agent_x, agent_y, block_x, block_y, block_angle] (pixels, radians in [0, 2π)) |
| `observation.environment_state` | 18 | the 9 Diffusion-Policy T keypoints (x, y), flattened |
| `action` | 2 | target agent position in pixels (0..512) |
| `next.done` | 1 (bool) | True on each episode's last frame |

`observation.state` is exactly gym-pusht's `obs_type="state"` observation (`PushTEnv.get_obs`:
agent position, block position, `block.angle % 2π`). Checked by simulation with gym-pusht 0.1.8
(pymunk 6.11): placing agent and block at each episode's first recorded state (block angle set
before its position) and replaying the recorded actions reproduces the recorded states to within
1e-3 px over the whole episode for 182 of the 206 episodes (median max error 2.6e-5); the other
24 drift by at most 9.5 px. Caveat: gym-pusht's `reset(options={{"reset_to_state": s}})` keeps a
"legacy" order (position, then angle) that rotates the block about its centre of gravity with
pymunk 6, so the block lands up to ~90 px away from `s[2:4]`; set the state directly if you need
it exact. The 18-d keypoints are Diffusion Policy's 9 keypoints, not gym-pusht's 16-d
`environment_state` (8 keypoints). The data has no reward column (reward = coverage, needs the
simulator).

## Measured
- Episodes: **{len(episodes)}**; frames: **{int(lengths.sum()):,}**; episode length min/mean/max:
  {lengths.min()} / {lengths.mean():.1f} / {lengths.max()}.
- Action range: x [{act[:, 0].min():.1f}, {act[:, 0].max():.1f}], y [{act[:, 1].min():.1f}, {act[:, 1].max():.1f}];
  block angle range [{angle.min():.4f}, {angle.max():.4f}].
"""


def build_pusht(shared: Path, out: Path, overwrite: bool) -> Path:
    episodes = load_pusht_episodes(shared)
    return write_dataset(
        out / "pusht",
        episodes,
        fps=PUSHT_FPS,
        robot_type="pusht",
        task=PUSHT_TASK,
        features_names=PUSHT_NAMES,
        overwrite=overwrite,
        extra_files={"README.md": pusht_card(episodes)},
    )


# PushT, split layout: the same 206 demonstrations with the 5-d state split into agent and block, so
# that LeRobot's Diffusion Policy (which needs an image or observation.environment_state input) can be
# trained on gym-pusht's state observation. LeRobot's DiffusionPolicy conditions on
# [observation.state, observation.environment_state] per step, which is exactly the 5-d vector.
PUSHT_SPLIT_NAMES = {
    "observation.state": ["agent_x", "agent_y"],
    "observation.environment_state": ["block_x", "block_y", "block_angle"],
    "action": ["target_agent_x", "target_agent_y"],
}


def pusht_split_episodes(episodes: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    return [
        {
            "observation.state": ep["observation.state"][:, :2].copy(),
            "observation.environment_state": ep["observation.state"][:, 2:].copy(),
            "action": ep["action"],
            "next.done": ep["next.done"],
        }
        for ep in episodes
    ]


def pusht_split_card(episodes: list[dict[str, np.ndarray]]) -> str:
    lengths = np.array([len(ep["action"]) for ep in episodes])
    block = np.concatenate([ep["observation.environment_state"] for ep in episodes])
    return f"""# pusht_split — PushT human demonstrations, agent / block split (for LeRobot's Diffusion Policy)

LeRobotDataset v3.0 (parquet only, no images), built offline by this project from the same arrays as
[`pusht`](../pusht/README.md); only the layout of the observation differs.

## Source and licence
- `shared/data/{PUSHT_NPZ}`: the original Diffusion Policy PushT demonstrations
  (`pusht_cchi_v7_replay`, Chi et al. 2023, **MIT licence**); see the `pusht` card for provenance
  and the replay check against gym-pusht.
- Rebuild: `{_rel_cmd("pusht_split")}`.

## Why this layout
LeRobot 0.4.4's `DiffusionPolicy` refuses inputs without a camera image or an
`observation.environment_state` ("You must provide at least one image or the environment state among
the inputs"), so it cannot be trained on `pusht`'s single 5-d `observation.state`. Here the 5-d
gym-pusht state is split in two features; the policy's global conditioning is
`cat([observation.state, observation.environment_state])` per observation step
(`DiffusionModel._prepare_global_conditioning`), i.e. exactly gym-pusht's `obs_type="state"` vector
[agent_x, agent_y, block_x, block_y, block_angle], which is what genpo's PushT env gives.

## Features (fps {PUSHT_FPS})
| key | shape | meaning |
|---|---|---|
| `observation.state` | 2 | [agent_x, agent_y] (pixels) = `pusht` state[0:2] |
| `observation.environment_state` | 3 | [block_x, block_y, block_angle] (pixels, radians in [0, 2π)) = `pusht` state[2:5] |
| `action` | 2 | target agent position in pixels (0..512) |
| `next.done` | 1 (bool) | True on each episode's last frame |

Note: LeRobot's Diffusion Policy leaves `ENV` features unnormalised unless its `normalization_mapping`
maps `ENV` (train with `--policy.normalization_mapping` including `"ENV": "MIN_MAX"`; docs/lerobot.md).

## Measured
- Episodes: **{len(episodes)}**; frames: **{int(lengths.sum()):,}**; episode length min/mean/max:
  {lengths.min()} / {lengths.mean():.1f} / {lengths.max()}.
- Block x range [{block[:, 0].min():.1f}, {block[:, 0].max():.1f}], y range [{block[:, 1].min():.1f}, {block[:, 1].max():.1f}],
  angle range [{block[:, 2].min():.4f}, {block[:, 2].max():.4f}].
"""


def build_pusht_split(shared: Path, out: Path, overwrite: bool) -> Path:
    episodes = pusht_split_episodes(load_pusht_episodes(shared))
    return write_dataset(
        out / "pusht_split",
        episodes,
        fps=PUSHT_FPS,
        robot_type="pusht",
        task=PUSHT_TASK,
        features_names=PUSHT_SPLIT_NAMES,
        overwrite=overwrite,
        extra_files={"README.md": pusht_split_card(episodes)},
    )


# --------------------------------------------------------------------------------------------
# MuJoCo expert / medium
# --------------------------------------------------------------------------------------------


def _make_env(env_id: str):
    import gymnasium as gym

    return gym.make(env_id)  # default 1000-step TimeLimit for Hopper-v5 / Walker2d-v5


def _load_policy(shared: Path, spec: MujocoSpec):
    from mujoco_experts import ExpertPolicy

    path = shared / "mujoco_experts" / "policies" / spec.policy_file
    if not path.is_file():
        raise FileNotFoundError(f"expert policy not found: {path}")
    return ExpertPolicy.load(path)


def collect(env, policy, *, noise_std: float, seed: int, min_frames: int | None = None, n_episodes: int | None = None):
    """Whole episodes until `min_frames` frames (or `n_episodes` episodes) are collected.

    Episode i resets the env with seed `seed * 1_000_000 + i` and draws its action noise from
    `np.random.default_rng([seed, i])`, so every episode is reproducible on its own.
    """
    from mujoco_experts import rollout_episode

    episodes, frames = [], 0
    i = 0
    while (min_frames is not None and frames < min_frames) or (n_episodes is not None and i < n_episodes):
        ep = rollout_episode(
            env,
            policy,
            reset_seed=seed * 1_000_000 + i,
            noise_std=noise_std,
            noise_rng=np.random.default_rng([seed, i]) if noise_std > 0 else None,
        )
        episodes.append(ep)
        frames += ep.length
        i += 1
    return episodes


def _episodes_to_dicts(episodes) -> list[dict[str, np.ndarray]]:
    return [
        {
            "observation.state": ep.obs,
            "action": ep.action,
            "next.reward": ep.reward.astype(np.float32),
            "next.done": ep.terminated | ep.truncated,
            "next.terminated": ep.terminated,
        }
        for ep in episodes
    ]


def _returns(dicts) -> np.ndarray:
    # From the float32 rewards actually stored, summed in float64 (what a reader recomputes).
    return np.array([d["next.reward"].astype(np.float64).sum() for d in dicts])


def mujoco_card(
    spec: MujocoSpec, kind: str, dicts, expert_returns: np.ndarray, fps: int, obs_dim: int, act_dim: int
) -> str:
    rets = _returns(dicts)
    lengths = np.array([len(d["action"]) for d in dicts])
    term = np.array([bool(d["next.terminated"][-1]) for d in dicts])
    name = f"{spec.name}_{kind}"
    if kind == "expert":
        behaviour = (
            "the expert's **deterministic mean action** (no noise), clipped to [-1, 1]. "
            "Episodes differ only through the env's random initial state."
        )
        seed = spec.expert_seed
        target = spec.expert_frames
        rel = ""
    else:
        behaviour = (
            f"a fixed corruption of the expert: **mean action + Gaussian noise N(0, {spec.medium_noise_std}² I)** "
            "(independent per step and per action dimension), then clipped to [-1, 1]; the stored "
            "`action` is the executed (noisy, clipped) one. The noise std was chosen with "
            f"`{_rel_cmd(spec.name, ' --calibrate')}` so the mean return is about half the expert's "
            '(once called "medium"; the D4RL-style medium sets are `*_medium`). Calibration sweep '
            f"(30 episodes per level, seed {spec.calibrate_seed}; % of the expert's mean return): {spec.calibration}."
        )
        seed = spec.medium_seed
        target = spec.medium_frames
        pct = 100.0 * rets.mean() / expert_returns.mean()
        rel = (
            f"- Noise std: **{spec.medium_noise_std}**; mean return = **{pct:.1f}%** of the "
            f"`{spec.name}_expert` dataset's mean return ({expert_returns.mean():.1f}).\n"
        )
    return f"""# {name} — {spec.env_id} {kind} rollouts, LeRobotDataset v3.0

Generated offline by this project by rolling out a pretrained expert policy in gymnasium
`{spec.env_id}` (MuJoCo, 1000-step time limit, fps {fps} = 1/dt).

## Source and licence
- Policy: `shared/data/mujoco_experts/policies/{spec.policy_file}`, the Berkeley CS285 (2023)
  expert Gaussian MLP (2×64 tanh, observation normalisation), **MIT licence**. Forward pass in
  `tools/mujoco_experts.py`.
- Behaviour: {behaviour}
- Collection: whole episodes until ≥ {target:,} frames; episode i resets with seed
  `{seed} * 1_000_000 + i` and draws noise from `numpy.random.default_rng([{seed}, i])`.
- Rebuild: `{_rel_cmd(spec.name)}` (builds both `{spec.name}_expert` and `{spec.name}_noisy_expert`).

## Features
| key | shape | meaning |
|---|---|---|
| `observation.state` | {obs_dim} | gymnasium `{spec.env_id}` observation the action was taken in |
| `action` | {act_dim} | executed action, in [-1, 1] |
| `next.reward` | 1 | reward of the step |
| `next.done` | 1 (bool) | episode ended after this step (terminated or truncated) |
| `next.terminated` | 1 (bool) | ended in a terminal state (fell); done and not terminated = 1000-step truncation |

The observation after an episode's last step is not stored (LeRobot frames hold one observation).

## Measured
- Episodes: **{len(dicts)}**; frames: **{int(lengths.sum()):,}**; episode length mean {lengths.mean():.1f}
  (min {lengths.min()}, max {lengths.max()}); episodes ending by falling: {int(term.sum())}.
- Episode return: **{_fmt_pm(rets)}** (mean ± std; min {rets.min():.1f}, max {rets.max():.1f}).
{rel}"""


def build_mujoco(spec: MujocoSpec, shared: Path, out: Path, overwrite: bool, only: str | None) -> list[Path]:
    env = _make_env(spec.env_id)
    policy = _load_policy(shared, spec)
    fps = int(round(1.0 / env.unwrapped.dt))
    paths = []
    t0 = time.time()
    expert = _episodes_to_dicts(
        collect(env, policy, noise_std=0.0, seed=spec.expert_seed, min_frames=spec.expert_frames)
    )
    expert_returns = _returns(expert)
    print(f"[{spec.name}] expert: {len(expert)} episodes, return {_fmt_pm(expert_returns)} ({time.time() - t0:.1f} s)")
    kinds = ["expert", "noisy_expert"] if only is None else [only]
    for kind in kinds:
        if kind == "expert":
            dicts = expert
        else:
            t0 = time.time()
            dicts = _episodes_to_dicts(
                collect(
                    env, policy, noise_std=spec.medium_noise_std, seed=spec.medium_seed, min_frames=spec.medium_frames
                )
            )
            r = _returns(dicts)
            print(
                f"[{spec.name}] noisy expert (noise {spec.medium_noise_std}): {len(dicts)} episodes, return {_fmt_pm(r)} "
                f"= {100 * r.mean() / expert_returns.mean():.1f}% of expert ({time.time() - t0:.1f} s)"
            )
        card = mujoco_card(spec, kind, dicts, expert_returns, fps, policy.obs_dim, policy.act_dim)
        paths.append(
            write_dataset(
                out / f"{spec.name}_{kind}",
                dicts,
                fps=fps,
                robot_type=spec.env_id.split("-")[0].lower(),
                task=spec.task,
                overwrite=overwrite,
                extra_files={"README.md": card},
            )
        )
    env.close()
    return paths


def calibrate(spec: MujocoSpec, shared: Path, levels: list[float], n_episodes: int) -> None:
    env = _make_env(spec.env_id)
    policy = _load_policy(shared, spec)
    base = np.array(
        [e.ret for e in collect(env, policy, noise_std=0.0, seed=spec.calibrate_seed, n_episodes=n_episodes)]
    )
    print(f"{spec.env_id}: expert (mean action) return {_fmt_pm(base)} over {n_episodes} episodes")
    print("noise_std | return mean ± std | % of expert | mean length")
    for s in levels:
        eps = collect(env, policy, noise_std=s, seed=spec.calibrate_seed, n_episodes=n_episodes)
        r = np.array([e.ret for e in eps])
        ln = np.mean([e.length for e in eps])
        print(f"{s:9.2f} | {_fmt_pm(r):>17} | {100 * r.mean() / base.mean():10.1f}% | {ln:.0f}", flush=True)
    env.close()


# --------------------------------------------------------------------------------------------
# Index
# --------------------------------------------------------------------------------------------


# Datasets recorded from the project's own policies by tools/record_dataset.py (their cards say how).
RECORDED_NOTES = {
    "isaaclab_cartpole_expert": "IsaacLab Cartpole; own PPO expert, mean action",
    "isaaclab_cartpole_medium": "IsaacLab Cartpole; PPO stopped at 20/120 iterations, stochastic actions",
    "hopper_medium": ("D4RL-style medium: own from-scratch PPO stopped at iteration 100 (zero 40 % of expert), "
                          "stochastic actions; 30.7% of expert return"),
    "walker2d_medium": ("D4RL-style medium: own from-scratch PPO stopped at iteration 275 (zero 35 % of expert), "
                            "stochastic actions; 26.6% of expert return"),
}


def write_index(out: Path) -> Path:
    """datasets/README.md: one table row per dataset found under `out`, numbers read from disk."""
    found = sorted(p.parent.parent.name for p in out.glob("*/meta/info.json"))
    names = [n for n in INDEX_ORDER if n in found] + [n for n in found if n not in INDEX_ORDER]
    data = {n: read_dataset(out / n) for n in names}
    rows = []
    for n in names:
        d = data[n]
        lengths = d.episode_lengths()
        if "next.reward" in d.columns:
            rets = d.episode_returns()
            ret = _fmt_pm(rets)
        else:
            rets, ret = None, "—"
        note = ""
        for key, spec in MUJOCO.items():
            if n == f"{key}_noisy_expert":
                note = f"noise std {spec.medium_noise_std}"
                if rets is not None and f"{key}_expert" in data:
                    pct = 100 * rets.mean() / data[f"{key}_expert"].episode_returns().mean()
                    note += f"; {pct:.1f}% of expert return"
            elif n == f"{key}_expert":
                note = "deterministic mean action"
        if n == "pusht":
            note = "206 human demos; 5-d state = gym-pusht obs_type=state"
        elif n == "pusht_split":
            note = "same demos; state = agent (2), environment_state = block pose (3)"
        elif n in RECORDED_NOTES:
            note = RECORDED_NOTES[n]
        size = sum(f.stat().st_size for f in (out / n).rglob("*") if f.is_file()) / 2**20
        dims = f"{d.columns['observation.state'].shape[1]} / {d.columns['action'].shape[1]}"
        rows.append(
            f"| [`{n}`]({n}/README.md) | {d.num_episodes} | {d.num_frames:,} | {d.fps} | {dims} | {ret} | "
            f"{lengths.mean():.1f} | {size:.1f} MB | {note} |"
        )
    text = f"""# Shipped datasets

LeRobotDataset v3.0 directories (parquet + JSON, no videos), readable by lerobot 0.6
(`LeRobotDataset(repo_id="local/<name>", root="datasets/<name>")`) and by
`genpo.data.read_dataset("datasets/<name>")`. Each folder has a README.md card with the source,
licence, build command and measured numbers. This folder is data, not a Python package (no
`__init__.py`: `import datasets` must stay Hugging Face datasets).

| dataset | episodes | frames | fps | state / action dims | return (mean ± std) | mean length | size | notes |
|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Licences: PushT demonstrations — MIT (Diffusion Policy, Chi et al. 2023). MuJoCo expert policies
used to generate the locomotion datasets — MIT (Berkeley CS285, 2023). The IsaacLab Cartpole datasets
are recorded from this project's own policies (MIT) in IsaacLab 3.0 (BSD-3-Clause), the `*_medium`
locomotion datasets from this project's own partially trained PPO policies in gymnasium MuJoCo; the exact
commands are in their cards (`tools/record_dataset.py`).

Rebuild (offline, from `../shared/data`; a rebuild replaces the folder atomically and regenerates
this table):

    python tools/build_datasets.py pusht
    python tools/build_datasets.py pusht_split
    python tools/build_datasets.py hopper
    python tools/build_datasets.py walker2d
    python tools/build_datasets.py hopper --calibrate     # how the medium noise level was chosen
"""
    path = out / "README.md"
    path.write_text(text)
    return path


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python tools/build_datasets.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("target", choices=["pusht", "pusht_split", *MUJOCO, "index"])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory receiving the dataset folders")
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared/data folder")
    ap.add_argument("--only", choices=["expert", "noisy_expert"], help="MuJoCo: build only one of the two")
    ap.add_argument("--keep", action="store_true", help="fail instead of replacing an existing dataset")
    ap.add_argument("--calibrate", action="store_true", help="MuJoCo: sweep medium noise levels, write nothing")
    ap.add_argument("--levels", type=float, nargs="+", default=[0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0])
    ap.add_argument("--episodes", type=int, default=30, help="episodes per level for --calibrate")
    args = ap.parse_args(argv)

    t0 = time.time()
    if args.calibrate:
        if args.target not in MUJOCO:
            ap.error("--calibrate applies to MuJoCo targets only")
        calibrate(MUJOCO[args.target], args.shared, args.levels, args.episodes)
        return 0
    out = args.out
    if args.target == "pusht":
        paths = [build_pusht(args.shared, out, overwrite=not args.keep)]
    elif args.target == "pusht_split":
        paths = [build_pusht_split(args.shared, out, overwrite=not args.keep)]
    elif args.target in MUJOCO:
        paths = build_mujoco(MUJOCO[args.target], args.shared, out, overwrite=not args.keep, only=args.only)
    else:
        paths = []
    for p in paths:
        print(f"wrote {p}")
    if out.is_dir():
        print(f"wrote {write_index(out)}")
    print(f"done in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
