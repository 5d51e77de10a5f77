"""Typed configs composed from small YAML groups (OmegaConf), overridable from the command line.

    python pretrain/run.py task=pusht steps=2000 policy.hidden_dims=[128,128]

Every argument is either ``group=choice`` (a file ``configs/<group>/<choice>.yaml`` merged at the
root) or a dotted ``key=value`` override. Merge order: dataclass defaults < ``configs/<name>.yaml``
< selected group files < command-line overrides. Unknown keys are refused with one clear error.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence, TypeVar

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / "configs"
T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or override that cannot be applied."""


def _group_file(config_dir: Path, group: str, choice: str) -> Path:
    path = config_dir / group / f"{choice}.yaml"
    if not path.is_file():
        options = sorted(p.stem for p in (config_dir / group).glob("*.yaml"))
        raise ConfigError(f"unknown {group} {choice!r}; choose one of: {', '.join(options)}")
    return path


def load_config(schema: type[T], name: str, overrides: Sequence[str] = (), config_dir: Path = CONFIG_DIR) -> T:
    """Compose ``configs/<name>.yaml`` with its group defaults and the overrides into ``schema``."""
    base = OmegaConf.load(config_dir / f"{name}.yaml")
    groups: dict[str, str] = dict(base.pop("defaults", {}) or {})
    dotlist = []
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, value = item.split("=", 1)
        if key in groups:
            groups[key] = value
        else:
            dotlist.append(item)
    layers = [base] + [OmegaConf.load(_group_file(config_dir, g, c)) for g, c in groups.items()]
    layers.append(OmegaConf.from_dotlist(dotlist))
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), *layers)
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        raise ConfigError(f"bad config for {name}: {str(err).splitlines()[0]}") from None


def load_saved_config(schema: type[T], path: str | Path, overrides: Sequence[str] = ()) -> T:
    """A run's resolved config.yaml with command-line overrides (group choices are not re-applied)."""
    dotlist = [o for o in overrides if "=" in o]
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), OmegaConf.load(path), OmegaConf.from_dotlist(dotlist))
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        raise ConfigError(f"bad config in {path}: {str(err).splitlines()[0]}") from None


def to_yaml(config: Any) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(config))


def to_dict(config: Any) -> dict:
    return dataclasses.asdict(config)


def resolve_path(path: str | Path) -> Path:
    """A path as given if it exists (relative to the working dir), else relative to the repo root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() or p.exists() else REPO_ROOT / p
