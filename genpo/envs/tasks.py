"""Every task id the env layer knows, its aliases and its dimensions: the one place to edit.

Pure data plus resolution functions; importing this module starts no simulator and imports no
simulator package, so task ids can be checked before anything expensive happens.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

# Canonical ids per backend (what gym.make receives for the gymnasium backends).
KNOWN_TASKS: dict[str, tuple[str, ...]] = {
    "mujoco": ("Hopper-v5", "Walker2d-v5", "HalfCheetah-v5", "Ant-v5"),
    "pusht": ("gym_pusht/PushT-v0",),
    # IsaacLab 3.0 ids (the first four ran here on the CPU); 2.x ids ("-v0") are reached through
    # ISAACLAB_TASK_ALIASES and the normalised matching in resolve_isaaclab_task; any other "Isaac*" id is
    # accepted and checked against the registry when IsaacLab is imported.
    "isaaclab": (
        "Isaac-Cartpole",
        "Isaac-Cartpole-Direct",
        "Isaac-Ant",
        "Isaac-Ant-Direct",
        "Isaac-Humanoid",
        "Isaac-Humanoid-Direct",
        "Isaac-Velocity-Flat-AnymalD",
        "Isaac-Velocity-Rough-AnymalD",
        "Isaac-Reach-Franka",
        "Isaac-Lift-Cube-Franka",
    ),
}

# Case-insensitive short names for the gymnasium backends -> canonical id.
TASK_ALIASES: dict[str, dict[str, str]] = {
    "mujoco": {
        "hopper": "Hopper-v5",
        "walker2d": "Walker2d-v5",
        "walker": "Walker2d-v5",
        "halfcheetah": "HalfCheetah-v5",
        "half_cheetah": "HalfCheetah-v5",
        "cheetah": "HalfCheetah-v5",
        "ant": "Ant-v5",
    },
    "pusht": {
        "pusht": "gym_pusht/PushT-v0",
        "push_t": "gym_pusht/PushT-v0",
        "pusht-v0": "gym_pusht/PushT-v0",
    },
}

# IsaacLab renamed task ids between 2.x and 3.x. Each tuple lists names of one task; the first one that
# is registered in the running IsaacLab wins. Renames that only drop "-v0" are also found without an
# entry here (see _normalise), but listing the common ones keeps them explicit.
ISAACLAB_TASK_ALIASES: tuple[tuple[str, ...], ...] = (
    ("Isaac-Cartpole-v0", "Isaac-Cartpole"),
    ("Isaac-Cartpole-Direct-v0", "Isaac-Cartpole-Direct"),
    ("Isaac-Ant-v0", "Isaac-Ant"),
    ("Isaac-Ant-Direct-v0", "Isaac-Ant-Direct"),
    ("Isaac-Humanoid-v0", "Isaac-Humanoid"),
    ("Isaac-Humanoid-Direct-v0", "Isaac-Humanoid-Direct"),
    ("Isaac-Velocity-Flat-Anymal-D-v0", "Isaac-Velocity-Flat-Anymal-D", "Isaac-Velocity-Flat-AnymalD"),
    ("Isaac-Velocity-Rough-Anymal-D-v0", "Isaac-Velocity-Rough-Anymal-D", "Isaac-Velocity-Rough-AnymalD"),
    ("Isaac-Reach-Franka-v0", "Isaac-Reach-Franka"),
    ("Isaac-Lift-Cube-Franka-v0", "Isaac-Lift-Cube-Franka"),
    ("Isaac-Dexsuite-Kuka-Allegro-Lift-v0", "Isaac-Lift-KukaAllegro"),
    ("Isaac-Dexsuite-Kuka-Allegro-Reorient-v0", "Isaac-Reorient-KukaAllegro"),
    ("Isaac-Stack-Cube-Franka-v0", "IsaacContrib-Stack-Cube-Franka"),
)

# (obs_dim, action_dim) without making an env. Gymnasium entries are checked by tests/genpo/test_envs.py
# against a real env. IsaacLab Cartpole and Ant were measured on IsaacLab 3.0; the others were read from
# the IsaacLab 2.x task configs (sum of the "policy" observation terms), not run here: IsaacLabEnv compares them
# with the live env and raises on a mismatch, so a wrong entry fails loudly at make_env rather than silently.
TASK_DIMS: dict[str, tuple[int, int]] = {
    "Hopper-v5": (11, 3),
    "Walker2d-v5": (17, 6),
    "HalfCheetah-v5": (17, 6),
    "Ant-v5": (105, 8),
    "gym_pusht/PushT-v0": (5, 2),
    "Isaac-Cartpole": (4, 1),  # measured on IsaacLab 3.0 (Newton, CPU), as is the Direct variant
    "Isaac-Cartpole-Direct": (4, 1),
    "Isaac-Ant": (60, 8),
    "Isaac-Ant-Direct": (60, 8),
    "Isaac-Humanoid-v0": (87, 21),
    "Isaac-Velocity-Flat-Anymal-D-v0": (48, 12),
    "Isaac-Reach-Franka-v0": (32, 7),
    "Isaac-Lift-Cube-Franka-v0": (36, 8),
}


def check_isaaclab_task(task: str) -> str:
    """The id's form only (known id, alias, or "Isaac*"): the registered ids are only known once the
    simulation runs; resolve_isaaclab_task does the final resolution then."""
    if task.startswith("Isaac") or _isaaclab_group(task) is not None:
        return task
    raise ValueError(
        f"unknown IsaacLab task {task!r}: IsaacLab task ids start with 'Isaac'; known ones: "
        + ", ".join(KNOWN_TASKS["isaaclab"])
    )


def resolve_gymnasium_task(backend: str, task: str) -> str:
    """Canonical gymnasium id of a task or alias of `backend`, or ValueError listing the valid ones."""
    known = KNOWN_TASKS[backend]
    if task in known:
        return task
    alias = TASK_ALIASES.get(backend, {}).get(task.lower())
    if alias is not None:
        return alias
    for canonical in known:  # "PushT-v0" for "gym_pusht/PushT-v0", case-insensitive ids
        if task.lower() in (canonical.lower(), canonical.split("/")[-1].lower()):
            return canonical
    aliases = sorted(TASK_ALIASES.get(backend, {}))
    raise ValueError(
        f"unknown {backend} task {task!r} (task.env.task); valid tasks: {', '.join(known)}"
        + (f" (aliases: {', '.join(aliases)})" if aliases else "")
    )


def _isaaclab_group(task: str) -> tuple[str, ...] | None:
    for group in ISAACLAB_TASK_ALIASES:
        if task in group:
            return group
    return None


def _normalise(task_id: str) -> str:
    """Version-insensitive key: drops "-vN", the "Contrib" prefix, dashes/underscores and case."""
    key = re.sub(r"-v\d+$", "", task_id)
    key = re.sub(r"^IsaacContrib-", "Isaac-", key)
    return re.sub(r"[-_]", "", key).lower()


def resolve_isaaclab_task(task: str, registered: Iterable[str]) -> str:
    """The registered IsaacLab id for `task`, whichever IsaacLab version named it.

    Order: exact id; the alias table; a unique version-insensitive match. Otherwise a ValueError
    naming the closest registered ids.
    """
    registered = [r for r in registered]
    reg_set = set(registered)
    if task in reg_set:
        return task
    group = _isaaclab_group(task)
    if group is not None:
        for name in group:
            if name in reg_set:
                return name
    keys = {name for name in group} if group else {task}
    wanted = {_normalise(name) for name in keys}
    matches = sorted(r for r in registered if _normalise(r) in wanted)
    if len(matches) == 1:
        return matches[0]
    isaac = [r for r in registered if r.startswith("Isaac")]
    if len(matches) > 1:
        raise ValueError(f"IsaacLab task {task!r} is ambiguous in this IsaacLab: {', '.join(matches)}")
    close = difflib.get_close_matches(task, isaac, n=8, cutoff=0.5)
    raise ValueError(
        f"IsaacLab task {task!r} is not registered in this IsaacLab ({len(isaac)} Isaac* tasks registered)"
        + (f"; closest: {', '.join(close)}" if close else "")
    )


def isaaclab_task_dims(task: str) -> tuple[int, int] | None:
    """Known (obs_dim, action_dim) of an IsaacLab task under any of its names, else None."""
    group = _isaaclab_group(task) or (task,)
    for name in group:
        if name in TASK_DIMS:
            return TASK_DIMS[name]
    for name, dims in TASK_DIMS.items():
        if name.startswith("Isaac") and _normalise(name) == _normalise(task):
            return dims
    return None
