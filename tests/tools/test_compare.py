"""tools/compare.py, the comparison runner: planning (equal env-step budgets, scoped overrides,
resume/skip) and the aggregation + plots from small fake metric files, without running any training."""

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from genpo.config import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tools"))
import compare  # noqa: E402
from compare import RunSpec, main, parse_thresholds, plan, scoped  # noqa: E402

COLUMNS = ["step", "env_steps", "time/train_s", "time/iteration_s", "time/update_us_per_sample", "memory/peak_rss_mb",
           "memory/stored_floats_per_sample", "ppo/actor_lr_used", "train/return", "eval_zero/return_mean", "eval_zero/success_rate",
           "eval_authors/return_mean", "eval_authors/success_rate"]


def write_run(root: Path, task: str, algo: str, seed: int, scores: list[float], success: bool = False,
              iteration_s: float = 1.0, stored: float = 25.0, finished: bool = True) -> Path:
    """A run directory as finetune.run leaves it: metrics.csv (eval every 2 iterations of 100 env steps)."""
    run_dir = root / "runs" / task / algo / f"seed{seed}"
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(f"task:\n  name: {task}\n  success_metric: {str(success).lower()}\n")
    key = "eval_zero/success_rate" if success else "eval_zero/return_mean"
    authors = key.replace("eval_zero", "eval_authors")  # the authors' protocol scores half the zero-sampling one
    rows = [{"step": 0, "env_steps": 0, key: scores[0], authors: scores[0] / 2}]
    for it in range(1, 2 * (len(scores) - 1) + 1):
        row = {"step": it, "env_steps": 100 * it, "time/train_s": iteration_s * it, "time/iteration_s": iteration_s,
               "time/update_us_per_sample": 10.0 * iteration_s, "memory/peak_rss_mb": 700.0 + it,
               "memory/stored_floats_per_sample": stored, "train/return": 1.0, "ppo/actor_lr_used": 1e-5 * it}
        if it % 2 == 0:
            row[key], row[authors] = scores[it // 2], scores[it // 2] / 2
        rows.append(row)
    with open(run_dir / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    if finished:
        (run_dir / "report.json").write_text("{}")
    return run_dir


@pytest.fixture
def fake_runs(tmp_path) -> Path:
    # hopper (return): genpopp improves 100 -> 130 / 120 over 400 env steps; dppo 100 -> 105, 1 seed
    write_run(tmp_path, "hopper", "genpopp", 0, [100, 110, 130], iteration_s=2.0)
    write_run(tmp_path, "hopper", "genpopp", 1, [100, 105, 120], iteration_s=2.0)
    write_run(tmp_path, "hopper", "dppo", 0, [100, 102, 105], stored=142.0)
    # pusht (success rate)
    write_run(tmp_path, "pusht", "genpopp", 0, [0.2, 0.4, 0.6], success=True)
    write_run(tmp_path, "pusht", "dppo", 0, [0.2, 0.25, 0.3], success=True)
    return tmp_path


def table(markdown: str, task: str, protocol: str = "zero sampling") -> dict[str, dict[str, str]]:
    """{algorithm: {column: cell}} of one task's table for one evaluation protocol."""
    block = markdown.split(f"## {task} — {protocol} ")[1].split("\n\n")[1].splitlines()
    header = [c.strip() for c in block[0].strip("|").split("|")]
    return {
        cells[0]: dict(zip(header, cells))
        for cells in ([c.strip() for c in line.strip("|").split("|")] for line in block[2:])
    }


def test_replot_only_aggregates_and_plots_fake_runs(fake_runs, monkeypatch):
    monkeypatch.setattr(compare, "execute", lambda run: pytest.fail("--replot-only must not run anything"))
    assert main(["--out", str(fake_runs), "--replot-only", "--algos", "genpopp", "dppo"]) == 0
    markdown = (fake_runs / "summary.md").read_text()
    hopper = table(markdown, "hopper")
    assert list(hopper) == ["genpopp", "dppo"]
    genpopp = hopper["genpopp"]
    assert genpopp["seeds"] == "2" and genpopp["pretrained"] == "100 ± 0"
    assert genpopp["final"] == f"125 ± {math.sqrt(50):.2g}"  # 130 and 120
    assert genpopp["@200 steps"].startswith("108 ± ")  # budgets 0.25/0.5/1.0 of 400 env steps: (110 + 105) / 2
    assert genpopp["steps to pre+10%"] == "300 ± 1.4e+02"  # 110 reached at 200 (seed 0) and 400 (seed 1)
    assert genpopp["steps to pre+25%"] == "400 (1/2)"  # only seed 0 reaches 125
    assert genpopp["s / iteration"] == "2 ± 0" and genpopp["stored floats / sample"] == "25 ± 0"
    assert genpopp["training s / 100k env steps"] == "2e+03 ± 0"  # 2 s per iteration of 100 env steps
    assert genpopp["actor LR used, min / max"] == "1e-05 ± 0 / 4e-05 ± 0"  # iterations 1-4 used 1e-5 ... 4e-5
    assert hopper["dppo"]["steps to pre+10%"] == "–" and hopper["dppo"]["stored floats / sample"] == "142"
    pusht = table(markdown, "pusht")
    assert pusht["genpopp"]["final"] == "0.6" and pusht["genpopp"]["steps to pre+0.1"] == "200"
    assert "success rate" in markdown.split("## pusht")[1].splitlines()[0]
    authors = table(markdown, "hopper", "the authors' protocol")  # the same aggregation of eval_authors/*
    assert authors["genpopp"]["pretrained"] == "50 ± 0" and authors["genpopp"]["final"] == f"62.5 ± {math.sqrt(12.5):.2g}"
    assert table(markdown, "pusht", "the authors' protocol")["genpopp"]["final"] == "0.3"
    for name in ("hopper_env_steps", "hopper_wall_time", "pusht_env_steps", "pusht_wall_time", "hopper_authors_env_steps",
                 "pusht_authors_wall_time"):
        assert (fake_runs / "plots" / f"{name}.png").stat().st_size > 1000
    with open(fake_runs / "all_metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * 5 + 2 * 5 and {r["algo"] for r in rows} == {"genpopp", "dppo"}
    summary = list(csv.DictReader(open(fake_runs / "summary.csv")))
    final = next(r for r in summary if r["task"] == "hopper" and r["algo"] == "genpopp" and r["metric"] == "final"
                 and r["protocol"] == "zero")
    assert float(final["mean"]) == 125 and final["seeds"] == "2"


def test_absolute_thresholds_and_budgets(fake_runs):
    markdown = compare.report(fake_runs, [200, 400], parse_thresholds(["hopper=104,129"]))
    hopper = table(markdown, "hopper")
    assert hopper["dppo"]["steps to 104"] == "400" and hopper["dppo"]["steps to 129"] == "–"
    assert hopper["genpopp"]["@400 steps"] == f"125 ± {math.sqrt(50):.2g}"


def test_an_unfinished_run_is_named_but_not_aggregated(fake_runs):
    # a third genpopp seed stopped after 200 env steps at a score the finished seeds never had
    write_run(fake_runs, "hopper", "genpopp", 2, [100, 500], finished=False)
    markdown = compare.report(fake_runs, [0.25, 0.5, 1.0], {})
    genpopp = table(markdown, "hopper")["genpopp"]
    assert genpopp["seeds"] == "2" and genpopp["final"] == f"125 ± {math.sqrt(50):.2g}"
    assert "fractions of 400 env steps" in markdown  # the budgets still span the finished runs
    assert "Not aggregated (not finished): hopper/genpopp/seed2." in markdown


def test_a_setting_equal_in_every_seed_has_no_spread_and_real_spread_is_kept():
    one_e_minus_4 = [1e-4, 1e-4 * (1 + 2e-16), 1e-4]  # one fixed LR, as three seeds' float32 logs give it back
    assert compare.fmt(one_e_minus_4) == "0.0001 ± 0"
    assert compare.fmt([2.0, 2.0 + 1e-6, 2.0]) == "2 ± 5.8e-07"


def test_plan_gives_every_method_the_same_env_step_budget(tmp_path):
    class Args:
        tasks, algos, seeds, out, env_steps = ["hopper", "pusht"], ["genpopp", "dppo"], [0, 1], tmp_path, 10_000

    runs = plan(Args, ["ppo.steps_per_iter=64", "dppo:ppo.epochs=1", "pusht:task.env.num_envs=4", "eval_every=5"])
    assert len(runs) == 8
    by = {(r.task, r.algo, r.seed): r for r in runs}
    # hopper: 64 steps x 8 envs x 4 actions = 2048 env steps per iteration -> 5 iterations
    assert (
        "ppo.iterations=5" in by["hopper", "genpopp", 0].overrides
        and "ppo.iterations=5" in by["hopper", "dppo", 1].overrides
    )
    # pusht: 64 x 4 envs x 8 actions = 2048 -> 5 as well; the scoped override reaches only its task / algorithm
    assert (
        "task.env.num_envs=4" in by["pusht", "dppo", 0].overrides
        and "task.env.num_envs=4" not in by["hopper", "dppo", 0].overrides
    )
    assert (
        "ppo.epochs=1" in by["hopper", "dppo", 0].overrides
        and "ppo.epochs=1" not in by["hopper", "genpopp", 0].overrides
    )
    assert by["hopper", "genpopp", 1].run_dir == tmp_path / "runs" / "hopper" / "genpopp" / "seed1"
    assert [r.seed for r in runs] == [0] * 4 + [1] * 4  # seeds outermost: a part-way campaign is balanced
    assert scoped(["policy.path=C:/x", "a:b=c"], "t", "a") == ["policy.path=C:/x", "b=c"]


def test_finished_runs_are_skipped_and_interrupted_ones_resume(tmp_path, monkeypatch):
    done = RunSpec("hopper", "genpopp", 0, write_run(tmp_path, "hopper", "genpopp", 0, [1, 2]))
    partial_dir = write_run(tmp_path, "hopper", "genpopp", 1, [1, 2], finished=False)
    (partial_dir / "checkpoints" / "last").mkdir(parents=True)
    (partial_dir / "checkpoints" / "last" / "training_state.pt").write_text("x")
    partial = RunSpec("hopper", "genpopp", 1, partial_dir)
    assert "resume=true" in compare.command(partial) and "resume=true" not in compare.command(done)
    started = []
    monkeypatch.setattr(compare, "execute", lambda run: (started.append(run.label), (run, 0, 0.0))[1])
    assert compare.run_all([done, partial], jobs=2) == []
    assert started == ["hopper/genpopp/seed1"]


def test_a_run_another_live_process_holds_is_skipped_and_a_dead_ones_lock_is_taken_over(tmp_path, monkeypatch):
    run = RunSpec("hopper", "genpopp", 0, tmp_path / "runs" / "hopper" / "genpopp" / "seed0")
    lock = run.run_dir.with_suffix(".lock")
    lock.parent.mkdir(parents=True)
    lock.write_text(str(os.getppid()))  # alive: the process that started pytest
    assert compare.execute(run) == (run, None, 0.0)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock.write_text(str(dead.pid))
    monkeypatch.setattr(compare, "command", lambda r: [sys.executable, "-c", "import sys; sys.exit(3)"])
    _, code, _ = compare.execute(run)
    assert code == 3 and not lock.exists()  # it ran (exit 3 is the stand-in run's) and released the lock
    run.run_dir.mkdir(parents=True, exist_ok=True)
    (run.run_dir / "report.json").write_text("{}")  # finished by another stream after the plan was made
    assert compare.execute(run) == (run, None, 0.0)
