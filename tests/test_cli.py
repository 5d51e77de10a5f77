"""Bad input at the command line: exit status 2 and ONE line on stderr naming the problem, no traceback
(genpo/cli.py); GENPO_DEBUG=1 shows the traceback; an error while training keeps its traceback.

Every subprocess case fails while starting (config composition, checkpoint loading, env spec), before any
simulator or training starts: a few seconds each, most of it importing torch.
"""

import os
import subprocess
import sys
import textwrap

import pytest

from genpo.cli import USAGE_ERROR, is_user_error, user_errors
from genpo.config import REPO_ROOT, Allowed, ConfigError, at_least, check_values, load_config

FINETUNE, PRETRAIN, RECORD = "finetune/run.py", "pretrain/run.py", "tools/record_dataset.py"
RECORD_ARGS = ["--episodes", "1", "--sampling", "zero", "--fps", "10", "--out", "/nowhere/genpo-test-out"]


def run(args: list[str], debug: bool = False, code: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("GENPO_DEBUG", "WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env |= {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"} | ({"GENPO_DEBUG": "1"} if debug else {})
    command = [sys.executable, "-c", code, *args] if code else [sys.executable, *args]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)


def corrupt_config(tmp_path):
    (tmp_path / "config.json").write_text('{"type": "genpo_flow", ')
    return str(tmp_path)


def corrupt_weights(tmp_path):
    (tmp_path / "config.json").write_text((REPO_ROOT / "checkpoints/hopper_noisy_expert/config.json").read_text())
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    return str(tmp_path)


# (script, arguments, what the line must name); "{ckpt}" is a broken checkpoint made by the case's factory
CASES = {
    "unknown key": (FINETUNE, ["bad=1"], "'bad'"),
    "unknown nested key": (FINETUNE, ["ppo.iteratons=3"], "did you mean ppo.iterations"),
    "not key=value": (FINETUNE, ["seed"], "'seed'"),
    "unknown task group": (FINETUNE, ["task=nope"], "unknown task 'nope'; choose one of: hopper"),
    "unknown algo group": (FINETUNE, ["algo=nope"], "unknown algo 'nope'; choose one of: "),
    "bad type": (FINETUNE, ["ppo.iterations=abc"], "ppo.iterations"),
    "bad bool": (FINETUNE, ["policy.from_scratch=maybe"], "policy.from_scratch"),
    "out of range": (FINETUNE, ["task.n_action_steps=0"], "task.n_action_steps=0 is out of range"),
    "missing checkpoint": (FINETUNE, ["policy.path=/nowhere/genpo-test"], "/nowhere/genpo-test"),
    "corrupt config.json": (FINETUNE, ["policy.path={ckpt}"], "config.json is not valid JSON"),
    "corrupt weights": (FINETUNE, ["policy.path={ckpt}"], "model.safetensors is corrupt"),
    "obs_dim mismatch": (FINETUNE, ["task=walker2d", "policy.path=checkpoints/hopper_noisy_expert"], "obs_dim=11"),
    "unknown env id": (FINETUNE, ["task.env.task=Nope-v1"], "'Nope-v1'"),
    "unknown env backend": (FINETUNE, ["task.env.backend=nope"], "'nope'"),
    "pretrain unknown key": (PRETRAIN, ["learning_rate=3"], "'learning_rate'"),
    "pretrain unknown task group": (PRETRAIN, ["task=nope"], "unknown task 'nope'"),
    "pretrain bad type": (PRETRAIN, ["steps=abc"], "steps"),
    "pretrain out of range": (PRETRAIN, ["ema_decay=1.5"], "ema_decay=1.5 is out of range"),
    "pretrain bad choice": (PRETRAIN, ["objective=nope"], "objective=nope"),
    "pretrain unknown env id": (PRETRAIN, ["task.env.task=Nope-v1"], "'Nope-v1'"),  # before training, not after
    "pretrain missing dataset": (PRETRAIN, ["task.dataset=/nowhere/genpo-test"], "task.dataset=/nowhere/genpo-test"),
    "pretrain dataset/env mismatch": (PRETRAIN, ["task=walker2d", "task.dataset=datasets/hopper_noisy_expert"], "11-d"),
    "record unknown task": (RECORD, ["--task", "nope", "--policy", "checkpoints/hopper_noisy_expert", *RECORD_ARGS], "'nope'"),
    "record mismatch": (RECORD, ["--task", "walker2d", "--policy", "checkpoints/hopper_noisy_expert", *RECORD_ARGS], "obs_dim"),
}
BROKEN = {"corrupt config.json": corrupt_config, "corrupt weights": corrupt_weights}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_and_exit_status_2(case, tmp_path):
    script, args, named = CASES[case]
    if case in BROKEN:
        args = [a.format(ckpt=BROKEN[case](tmp_path)) for a in args]
    out = run([script, *args])
    lines = out.stderr.strip().splitlines()
    assert out.returncode == USAGE_ERROR, f"{case}: status {out.returncode}\n{out.stderr[-3000:]}"
    assert "Traceback" not in out.stderr and len(lines) == 1, f"{case}: stderr is not one line:\n{out.stderr[-3000:]}"
    assert lines[0].startswith("error: ") and named in lines[0], f"{case}: {lines[0]!r} does not name {named!r}"


def test_genpo_debug_shows_the_traceback():
    out = run([FINETUNE, "bad=1"], debug=True)
    assert out.returncode not in (0, USAGE_ERROR)
    assert "Traceback" in out.stderr and "ConfigError: unknown config key 'bad'" in out.stderr


# An error raised while training is a bug or a divergence: it keeps its traceback, even when it is of a type that
# counts as a user error while starting (a ValueError raised by the project's own code).
TRAIN_FAILS = {  # script: (module, attribute replaced by a function that raises, arguments)
    FINETUNE: ("finetune.runner", "FinetuneRun.train",
               ["task.env.num_envs=1", "eval_episodes=0", "save_video=false", "output_dir={tmp}"]),
    PRETRAIN: ("genpo.metrics", "MetricsLogger", ["eval_episodes=0", "output_dir={tmp}"]),  # the first call of train()
}


@pytest.mark.parametrize("script", TRAIN_FAILS)
def test_an_error_while_training_keeps_its_traceback(script, tmp_path):
    module, attribute, args = TRAIN_FAILS[script]
    code = textwrap.dedent(f"""
        import importlib, runpy, sys
        namespace = {{"__name__": "genpo._test_cli_module"}}  # a raise statement of the project's own code
        exec("def fail(*args, **kwargs):\\n    raise ValueError('raised-while-training')", namespace)
        owner = importlib.import_module({module!r})
        *path, name = {attribute!r}.split(".")
        for part in path:
            owner = getattr(owner, part)
        setattr(owner, name, namespace["fail"])
        sys.argv = [{script!r}, *sys.argv[1:]]
        runpy.run_path({script!r}, run_name="__main__")
    """)
    out = run([a.format(tmp=tmp_path) for a in args], code=code)
    assert out.returncode not in (0, USAGE_ERROR), out.stderr[-3000:]
    assert "Traceback" in out.stderr and "raised-while-training" in out.stderr, out.stderr[-3000:]
    assert "error: raised-while-training" not in out.stderr


# ---- which exceptions count as the user's (in-process) -------------------------------------------------
def raised_in_project_module(source: str) -> BaseException:
    """Run `source` as the body of a function of a module named like the project's, return what it raised."""
    namespace = {"__name__": "genpo._test_cli_module"}
    exec(compile("def f():\n" + textwrap.indent(source, "    "), "<genpo._test_cli_module>", "exec"), namespace)
    try:
        namespace["f"]()
    except BaseException as err:  # the test inspects it
        return err
    raise AssertionError("nothing was raised")


@pytest.mark.parametrize("source, user", [
    ("raise ValueError('checkpoint x has obs_dim=3, but the env needs obs_dim=4')", True),
    ("raise ValueError(\n    'a message'\n    ' over lines'\n) from None", True),
    ("raise FileNotFoundError('no policy checkpoint at x')", True),
    ("raise ImportError('install the lerobot extra')", True),
    ("int('abc')", False),  # a ValueError from a C function called in our code: a bug
    ("import json\njson.loads('{')", False),  # a ValueError raised by a library
    ("from os import no_such_name", False),  # an ImportError of the import system (a refactor in progress)
    ("import no_such_module_here", False),
    ("open('/nowhere/genpo-test')", False),  # FileNotFoundError from open(): the code should have checked
    ("raise RuntimeError('x')", False),
    ("raise TypeError('x')", False),
    ("raise KeyError('x')", False),
])
def test_only_the_projects_own_messages_are_user_errors(source, user):
    assert is_user_error(raised_in_project_module(source)) is user


def test_config_errors_are_user_errors_and_other_modules_are_not():
    assert is_user_error(ConfigError("anything"))
    with pytest.raises(ValueError) as info:
        raise ValueError("raised by a test module, not the project")
    assert not is_user_error(info.value)


def test_user_errors_prints_one_line_and_exits_2(capsys, monkeypatch):
    monkeypatch.delenv("GENPO_DEBUG", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with pytest.raises(SystemExit) as info, user_errors():
        raise ConfigError("first line\n  second line")
    assert info.value.code == USAGE_ERROR
    assert capsys.readouterr().err == "error: first line second line\n"
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(SystemExit), user_errors():
        raise ConfigError("on one rank")
    assert capsys.readouterr().err == "[rank 1] error: on one rank\n"
    with pytest.raises(RuntimeError), user_errors():  # not a user error: propagates untouched
        raise RuntimeError("a bug")
    monkeypatch.setenv("GENPO_DEBUG", "1")
    with pytest.raises(ConfigError), user_errors():
        raise ConfigError("shown with its traceback")


# ---- config messages and declared ranges (in-process) ---------------------------------------------------
def test_config_messages_name_the_key_and_the_fix():
    from finetune.config import FinetuneConfig

    def message(*overrides):
        with pytest.raises(ConfigError) as info:
            load_config(FinetuneConfig, "finetune", list(overrides))
        assert "\n" not in str(info.value)
        return str(info.value)

    assert message("task.env.num_env=3").startswith("unknown config key 'task.env.num_env': did you mean task.env.num_envs?")
    assert "keys of ppo: iterations, " in message("ppo.bad=1")
    assert "give an integer, e.g. seed=0" in message("seed=1.5")
    assert "task.horizon (4)" in message("task.n_action_steps=5")
    assert "cannot parse the override 'ppo.critic_hidden=[1,2'" in message("ppo.critic_hidden=[1,2")


def test_every_task_composes_for_both_programs():
    """configs/task/*.yaml keep fine-tuning settings under `finetune:`, so pretrain/run.py accepts every task."""
    from finetune.config import FinetuneConfig
    from pretrain.run import PretrainConfig

    for task in sorted(p.stem for p in (REPO_ROOT / "configs" / "task").glob("*.yaml")):
        assert load_config(PretrainConfig, "pretrain", [f"task={task}"]).task.name == task
        assert load_config(FinetuneConfig, "finetune", [f"task={task}"]).task.name == task
    cartpole = load_config(FinetuneConfig, "finetune", ["task=isaaclab_cartpole"])
    assert (cartpole.ppo.iterations, cartpole.eval_episodes) == (60, 256)


def test_allowed_names_real_fields():
    from dataclasses import dataclass
    from typing import ClassVar

    @dataclass
    class Section:
        steps: int = 1
        ALLOWED: ClassVar[dict[str, Allowed]] = {"stepz": at_least(1)}

    with pytest.raises(TypeError, match="stepz"):
        check_values(Section())
