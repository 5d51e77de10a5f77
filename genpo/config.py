"""Typed configs composed from small YAML groups (OmegaConf), overridable from the command line.

    python pretrain/run.py task=pusht steps=2000 policy.hidden_dims=[128,128]

Every argument is either ``group=choice`` (a file ``configs/<group>/<choice>.yaml`` merged at the
root) or a dotted ``key=value`` override. Merge order: dataclass defaults < ``configs/<name>.yaml``
< selected group files < command-line overrides. A group file used by several programs keeps one
program's settings under a section named after it (``finetune:`` in ``configs/task/*.yaml``), merged
at the root for that program only. Every mistake is refused with one `ConfigError`
whose one-line message names the key (or file) and the fix: an unknown key (with the close matches
and the valid keys of its section), a value of the wrong type (with the expected type and the
default), an unknown group choice (with the choices), a value out of its declared range.

Ranges are declared next to the fields, as a class variable of the config dataclass, and checked
once the config is composed (`check_values`):

    @dataclass
    class PPOConfig:
        iterations: int = 40
        clip: float = 0.2
        ALLOWED: ClassVar[dict[str, Allowed]] = {"iterations": at_least(1), "clip": above(0)}
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / "configs"


class ConfigError(ValueError):
    """A config file or override that cannot be applied."""


# ---- declared ranges ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Allowed:
    """The values a config field accepts: a numeric range (a bound may name a sibling field) or choices."""

    low: float | str | None = None
    high: float | str | None = None
    low_open: bool = False  # True: value > low (else >=)
    high_open: bool = False
    choices: tuple = ()

    def problem(self, value: Any, section: Any, prefix: str) -> str | None:
        """Why `value` is not allowed (None if it is); `section` is the dataclass holding the field."""
        if self.choices:
            if value in self.choices:
                return None
            return f"not a valid choice; choose one of: {', '.join(map(format_value, self.choices))}"
        if value is None:
            return None
        rules, broken = [], False
        for bound, is_open, op in ((self.low, self.low_open, ">"), (self.high, self.high_open, "<")):
            if bound is None:
                continue
            if isinstance(bound, str):  # a sibling field: "n_action_steps <= horizon"
                limit = getattr(section, bound)
                shown = f"{prefix}{bound} ({format_value(limit)})"
            else:
                limit, shown = bound, format_value(bound)
            if op == ">":
                inside = value > limit if is_open else value >= limit
            else:
                inside = value < limit if is_open else value <= limit
            broken |= not inside
            rules.append(f"{op if is_open else op + '='} {shown}")
        return "out of range: must be " + " and ".join(rules) if broken else None


def at_least(low: float | str) -> Allowed:
    return Allowed(low=low)


def above(low: float | str) -> Allowed:
    return Allowed(low=low, low_open=True)


def between(low: float | str, high: float | str, low_open: bool = False, high_open: bool = False) -> Allowed:
    return Allowed(low=low, high=high, low_open=low_open, high_open=high_open)


def one_of(*choices: Any) -> Allowed:
    return Allowed(choices=choices)


def check_values(config: Any, prefix: str = "") -> None:
    """Check every field with an `ALLOWED` entry, recursively; ConfigError naming the first bad key."""
    allowed: dict[str, Allowed] = getattr(type(config), "ALLOWED", {})
    names = [f.name for f in dataclasses.fields(config)]
    if set(allowed) - set(names):  # a typo in the declaration is a bug, not a user error
        raise TypeError(f"{type(config).__name__}.ALLOWED names no field {sorted(set(allowed) - set(names))}")
    for name in names:
        value = getattr(config, name)
        if dataclasses.is_dataclass(value):
            check_values(value, f"{prefix}{name}.")
        elif name in allowed:
            problem = allowed[name].problem(value, config, prefix)
            if problem:
                default = _default_of(type(config), name)
                raise ConfigError(f"{prefix}{name}={format_value(value)} is {problem}"
                                  + (f" (default {format_value(default)})" if default is not dataclasses.MISSING else ""))


# ---- composition -------------------------------------------------------------------------------
def _group_file(config_dir: Path, group: str, choice: str) -> Path:
    path = config_dir / group / f"{choice}.yaml"
    if not path.is_file():
        options = sorted(p.stem for p in (config_dir / group).glob("*.yaml"))
        raise ConfigError(f"unknown {group} {choice!r}; choose one of: {', '.join(options)}")
    return path


def _parse_override(item: str) -> DictConfig:
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not of the form key=value (e.g. seed=1, task=pusht)")
    try:
        return OmegaConf.from_dotlist([item])
    except (OmegaConfBaseException, yaml.YAMLError) as err:
        raise ConfigError(f"cannot parse the override {item!r}: {_first_line(err)}; quote lists and "
                          "strings for the shell, e.g. 'ppo.critic_hidden=[256,256]'") from None


def _compose[T](schema: type[T], layers: list[tuple[str, Any]], groups: Sequence[str] = ()) -> T:
    """Merge (source, layer) pairs onto the schema in order; errors name the key and the source."""
    merged = OmegaConf.structured(schema)
    for source, layer in layers:
        try:
            merged = OmegaConf.merge(merged, layer)
        except OmegaConfBaseException as err:
            raise ConfigError(_explain(err, schema, source, groups)) from None
    try:
        config = OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        raise ConfigError(_explain(err, schema, "the composed config", groups)) from None
    check_values(config)
    return config


def load_config[T](schema: type[T], name: str, overrides: Sequence[str] = (), config_dir: Path = CONFIG_DIR) -> T:
    """Compose ``configs/<name>.yaml`` with its group defaults and the overrides into ``schema``."""
    base = OmegaConf.load(config_dir / f"{name}.yaml")
    groups: dict[str, str] = dict(base.pop("defaults", {}) or {})
    dotlist = []
    for item in overrides:
        key = item.split("=", 1)[0]
        if "=" in item and key in groups:
            groups[key] = item.split("=", 1)[1]
        else:
            dotlist.append((f"the override {item!r}", _parse_override(item)))
    layers = [(f"configs/{name}.yaml", base)]
    programs = {p.stem for p in config_dir.glob("*.yaml")}  # finetune, pretrain
    for group, choice in groups.items():
        layer = OmegaConf.load(_group_file(config_dir, group, choice))
        # A group file shared by several programs keeps one program's settings under its name
        # (configs/task/*.yaml: `finetune: {ppo: ...}`): merged at the root for that program only.
        sections = {p: layer.pop(p) for p in programs if p in layer}
        layers.append((f"configs/{group}/{choice}.yaml", layer))
        if name in sections:
            layers.append((f"configs/{group}/{choice}.yaml ({name}: section)", sections[name]))
    return _compose(schema, layers + dotlist, groups=list(groups))


def load_saved_config[T](schema: type[T], path: str | Path, overrides: Sequence[str] = ()) -> T:
    """A run's resolved config.yaml with command-line overrides (group choices are not re-applied)."""
    dotlist = [(f"the override {o!r}", _parse_override(o)) for o in overrides if "=" in o]
    return _compose(schema, [(str(path), OmegaConf.load(path))] + dotlist)


# ---- messages ----------------------------------------------------------------------------------
def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def format_value(value: Any) -> str:
    """A value as it would be typed on the command line."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, str):
        return value if value else "''"
    return str(value)


def _default_of(section: type, name: str) -> Any:
    for f in dataclasses.fields(section):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
    return dataclasses.MISSING


def _section_of(schema: type, dotted: str) -> type | None:
    """The dataclass that holds the key `dotted` (a.b.c -> the type of a.b), if the path is all dataclasses."""
    section = schema
    for part in [p for p in dotted.split(".")[:-1] if p]:
        hints = typing.get_type_hints(section) if dataclasses.is_dataclass(section) else {}
        section = hints.get(part)
        if not (isinstance(section, type) and dataclasses.is_dataclass(section)):
            return None
    return section if dataclasses.is_dataclass(section) else None


def _type_words(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, typing.Sequence):
        return "a list"
    if origin is dict:
        return "a mapping"
    if origin in (typing.Union, types.UnionType):  # int | None
        args = typing.get_args(annotation)
        kinds = " or ".join(_type_words(a) for a in args if a is not type(None))
        return kinds + " (or null)" if type(None) in args else kinds
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(annotation, str(annotation))


def _explain(err: OmegaConfBaseException, schema: type, source: str, groups: Sequence[str]) -> str:
    key = err.full_key or ""
    reason = err.msg.strip().splitlines()[0].rstrip(".")
    where = "" if source.startswith("the override") else f" (in {source})"
    if isinstance(err, ConfigKeyError) and key:
        section = _section_of(schema, key)
        if section is not None:
            prefix = key.rsplit(".", 1)[0] + "." if "." in key else ""
            valid = [f.name for f in dataclasses.fields(section)]
            close = difflib.get_close_matches(key.rsplit(".", 1)[-1], valid, n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(prefix + c for c in close)}? " if close else ""
            name = f"keys of {prefix[:-1]}" if prefix else "top-level keys"
            extra = f"; groups: {', '.join(f'{g}=<configs/{g}/*.yaml>' for g in groups)}" if groups and not prefix else ""
            return f"unknown config key {key!r}{where}: {hint}{name}: {', '.join(valid)}{extra}"
    section = _section_of(schema, key) if key else None
    name = key.rsplit(".", 1)[-1]
    if section is not None and name in {f.name for f in dataclasses.fields(section)}:
        expected = _type_words(typing.get_type_hints(section)[name])
        default = _default_of(section, name)
        example = f", e.g. {key}={format_value(default)}" if default is not dataclasses.MISSING else ""
        return f"bad value for {key}{where}: {reason}; give {expected}{example}"
    return f"bad config {f'at {key} ' if key else ''}in {source}: {reason}"


def to_yaml(config: Any) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(config))


def to_dict(config: Any) -> dict:
    return dataclasses.asdict(config)


def resolve_path(path: str | Path) -> Path:
    """A path as given if it exists (relative to the working dir), else relative to the repo root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() or p.exists() else REPO_ROOT / p
