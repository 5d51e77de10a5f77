"""Compare fine-tuning algorithms: algorithms x seeds x tasks, each a normal fine-tuning run, then one
table and plots.

    python tools/compare.py --algos genpopp reinflow dppo fpo ppo --seeds 0 1 2 --tasks hopper pusht \\
        --out benchmarks/results/compare --env-steps 200000 [--jobs 2] [overrides ...]
    python tools/compare.py --out benchmarks/results/compare --replot-only

Every run is `python -m finetune.run task=<task> algo=<algo> seed=<seed> output_dir=<out>/runs/<task>/<algo>/seed<seed>
ppo.iterations=<n> [overrides]`, with n chosen so that every method gets the same env-step budget
(--env-steps; without it, each run keeps its configured iterations). Overrides are key=value pairs for
every run; prefix one with a task or algorithm name to scope it (`dppo:ppo.minibatch_size=16`,
`pusht:task.env.num_envs=4`). Finished runs (report.json present) are skipped; interrupted ones resume
from their `last` checkpoint (one that never reached a checkpoint starts over); a run that another live process
holds (<run_dir>.lock) is skipped, so two invocations can share a campaign. The tables, plots and
all_metrics.csv aggregate finished runs only; summary.md names the others. Outputs in --out:

    runs/<task>/<algo>/seed<k>/    the run directories (metrics.csv, report.md, checkpoints, ...)
    all_metrics.csv                every run's metrics.csv rows with task, algo, seed columns
    summary.md, summary.csv        per task, evaluation protocol (zero sampling; the authors') and algorithm,
                                   mean ± std over seeds: pretrained score, score at env-step budgets, final
                                   score, env steps to thresholds, wall time per iteration and per 100k env
                                   steps, update time per sample, peak memory, stored floats/sample
    plots/<task>_env_steps.png     score vs env steps and vs training wall time, one line per algorithm,
    plots/<task>_wall_time.png     a band of ± 1 std over seeds, up to where its shortest seed ends; the
                                   expert's level dashed (--expert task=score); <task>_authors_*.png: the same
                                   for the authors' protocol
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genpo.cli import user_errors
from genpo.config import REPO_ROOT, load_config, resolve_path
from genpo.metrics import MetricsLogger

SCORE_KEYS = {"return": "return_mean", "success": "success_rate"}  # under eval_<protocol>/
PROTOCOLS = {"zero": "zero sampling", "authors": "the authors' protocol"}  # tables and plots, in this order


# ---- planning and running ---------------------------------------------------------------------
@dataclass
class RunSpec:
    task: str
    algo: str
    seed: int
    run_dir: Path
    overrides: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.task}/{self.algo}/seed{self.seed}"

    def finished(self) -> bool:
        return (self.run_dir / "report.json").is_file()

    def resumable(self) -> bool:
        return (self.run_dir / "checkpoints" / "last" / "training_state.pt").is_file()


def scoped(overrides: list[str], task: str, algo: str) -> list[str]:
    """Overrides for one run: unscoped ones, and `<task>:` / `<algo>:` ones for this task or algorithm."""
    out = []
    for item in overrides:
        scope, sep, rest = item.partition(":")
        if sep and "=" not in scope:
            if scope in (task, algo):
                out.append(rest)
        else:
            out.append(item)
    return out


def iterations_for(task: str, algo: str, overrides: list[str], env_steps: int) -> int:
    """Iterations that give at least env_steps env steps with this run's resolved config."""
    from finetune.config import FinetuneConfig

    cfg = load_config(FinetuneConfig, "finetune", [f"task={task}", f"algo={algo}", *overrides])
    per_iteration = cfg.ppo.steps_per_iter * cfg.task.env.num_envs * cfg.task.n_action_steps
    return max(1, math.ceil(env_steps / per_iteration))


def plan(args, overrides: list[str]) -> list[RunSpec]:
    """Seeds outermost: a campaign stopped part-way has the same seeds done for every method and task."""
    runs = []
    for seed in args.seeds:
        for task in args.tasks:
            for algo in args.algos:
                extra = scoped(overrides, task, algo)
                if args.env_steps:
                    extra = [*extra, f"ppo.iterations={iterations_for(task, algo, extra, args.env_steps)}"]
                runs.append(RunSpec(task, algo, seed, args.out / "runs" / task / algo / f"seed{seed}", extra))
    return runs


def command(run: RunSpec) -> list[str]:
    cmd = [sys.executable, "-m", "finetune.run", f"task={run.task}", f"algo={run.algo}", f"seed={run.seed}",
           f"output_dir={run.run_dir}", *run.overrides]
    return [*cmd, "resume=true"] if run.resumable() else cmd


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def claim(run: RunSpec) -> Path | None:
    """Take <run_dir>.lock (holding this process's id) so that two campaign streams never run the same run; None
    when a live process holds it. A lock left by a dead process is taken over."""
    lock = run.run_dir.with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    if lock.is_file():
        holder = lock.read_text().strip()
        if holder.isdigit() and process_alive(int(holder)):
            return None
        lock.unlink(missing_ok=True)
    try:
        with open(lock, "x") as f:
            f.write(str(os.getpid()))
    except FileExistsError:  # another stream took it in between
        return None
    return lock


def execute(run: RunSpec) -> tuple[RunSpec, int | None, float]:
    """Run one fine-tuning run in a subprocess (stdout/stderr to <run_dir>.log); exit code None: skipped, because
    it finished after the plan was made or another process is running it."""
    lock = None if run.finished() else claim(run)
    if lock is None:
        return run, None, 0.0
    try:
        if not run.resumable() and run.run_dir.exists():
            shutil.rmtree(run.run_dir)  # a start that never reached a checkpoint: begin again
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        start = time.time()
        with open(run.run_dir.with_suffix(".log"), "a") as log:
            log.write(f"$ {' '.join(command(run))}\n")
            log.flush()
            code = subprocess.run(command(run), cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
        return run, code, time.time() - start
    finally:
        lock.unlink(missing_ok=True)


def run_all(runs: list[RunSpec], jobs: int) -> list[str]:
    todo = [r for r in runs if not r.finished()]
    for r in runs:
        if r.finished():
            print(f"skip {r.label}: finished")
    failures = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for run, code, seconds in pool.map(execute, todo):
            if code is None:
                print(f"skip {run.label}: finished or running in another process", flush=True)
                continue
            status = "ok" if code == 0 else f"FAILED (exit {code}, see {run.run_dir.with_suffix('.log')})"
            print(f"{run.label}: {status} in {seconds:.0f} s", flush=True)
            if code:
                failures.append(run.label)
    return failures


# ---- reading runs ---------------------------------------------------------------------------------
@dataclass
class RunData:
    task: str
    algo: str
    seed: int
    rows: list[dict[str, float]]
    kind: str  # "return" | "success"
    protocol: str = "zero"  # the evaluation read as the score (PROTOCOLS)

    @property
    def score_key(self) -> str:
        return f"eval_{self.protocol}/{SCORE_KEYS[self.kind]}"

    def read_as(self, protocol: str) -> RunData | None:
        """This run scored by another evaluation protocol; None where it was not logged."""
        other = dataclasses.replace(self, protocol=protocol)
        return other if any(math.isfinite(r.get(other.score_key, math.nan)) for r in self.rows) else None

    def evals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(env steps, cumulative training seconds, score) at every evaluation (step 0 = pretrained)."""
        def seconds(r: dict[str, float]) -> float:  # the pretrained evaluation (step 0) precedes training
            value = r.get("time/train_s", math.nan)
            return 0.0 if r.get("step") == 0 and not math.isfinite(value) else value

        points = [(r.get("env_steps", math.nan), seconds(r), r[self.score_key])
                  for r in self.rows if math.isfinite(r.get(self.score_key, math.nan))]
        if not points:
            return np.zeros(0), np.zeros(0), np.zeros(0)
        steps, seconds, score = (np.asarray(c, dtype=float) for c in zip(*points))
        return steps, seconds, score

    def column(self, key: str) -> np.ndarray:
        return np.asarray([r[key] for r in self.rows if math.isfinite(r.get(key, math.nan))], dtype=float)


def success_task(run_dir: Path, rows: list[dict[str, float]]) -> bool:
    config = run_dir / "config.yaml"
    if config.is_file():
        from omegaconf import OmegaConf

        return bool(OmegaConf.load(config).get("task", {}).get("success_metric", False))
    return any(math.isfinite(r.get(f"eval_zero/{SCORE_KEYS['success']}", math.nan)) for r in rows)


def runs_on_disk(out: Path) -> list[RunSpec]:
    """Every run directory under out/runs that has logged metrics, finished or not."""
    specs = []
    for path in sorted((out / "runs").glob("*/*/seed*/metrics.csv")):
        run_dir = path.parent
        specs.append(RunSpec(run_dir.parent.parent.name, run_dir.parent.name, int(run_dir.name.removeprefix("seed")), run_dir))
    return specs


def read_runs(out: Path) -> list[RunData]:
    """The finished runs (report.json present). An unfinished one would shorten every table budget and put a seed
    stopped half-way into "final"."""
    runs = []
    for spec in filter(RunSpec.finished, runs_on_disk(out)):
        rows = MetricsLogger.read_csv(spec.run_dir / "metrics.csv")
        if rows:
            kind = "success" if success_task(spec.run_dir, rows) else "return"
            runs.append(RunData(spec.task, spec.algo, spec.seed, rows, kind))
    return runs


def unfinished_note(out: Path) -> list[str]:
    """One line naming the runs left out of the tables because they have not finished."""
    names = [spec.label for spec in runs_on_disk(out) if not spec.finished()]
    return [f"Not aggregated (not finished): {', '.join(names)}.", ""] if names else []


# ---- aggregation ------------------------------------------------------------------------------------
def interpolate_at(x: np.ndarray, y: np.ndarray, at: float) -> float:
    """y at x = at by linear interpolation; NaN outside the run's range."""
    if len(x) == 0 or at < x[0] or at > x[-1]:
        return math.nan
    return float(np.interp(at, x, y))


def first_reaching(x: np.ndarray, y: np.ndarray, threshold: float) -> float:
    hits = np.nonzero(y >= threshold)[0]
    return float(x[hits[0]]) if len(hits) else math.nan


def mean_std(values: list[float]) -> tuple[float, float, int]:
    v = np.asarray([x for x in values if math.isfinite(x)], dtype=float)
    if not len(v):
        return math.nan, math.nan, 0
    mean, std = float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0
    # the same setting logged by every seed (a fixed LR, a layout) differs only in its last bits: that spread is 0
    return mean, 0.0 if std <= 1e-9 * abs(mean) else std, len(v)


def fmt(values: list[float], digits: int = 3, total: int | None = None) -> str:
    mean, std, n = mean_std(values)
    if not n:
        return "–"
    text = f"{mean:.{digits}g} ± {std:.2g}" if n > 1 else f"{mean:.{digits}g}"
    return text + (f" ({n}/{total})" if total is not None and n < total else "")


def parse_thresholds(items: list[str]) -> dict[str, list[float]]:
    out = {}
    for item in items or []:
        task, _, values = item.partition("=")
        out[task] = [float(v) for v in values.split(",") if v]
    return out


def by_protocol(runs: list[RunData]) -> list[tuple[str, list[RunData]]]:
    """(protocol, the runs read by it) for every protocol some run logged."""
    out = []
    for protocol in PROTOCOLS:
        read = [r for r in (run.read_as(protocol) for run in runs) if r is not None]
        if read:
            out.append((protocol, read))
    return out


def summarize(runs: list[RunData], budgets: list[float], thresholds: dict[str, list[float]],
              notes: Sequence[str] = ()) -> tuple[str, list[dict]]:
    """Markdown tables (one per task and evaluation protocol) and the same numbers as CSV rows."""
    lines = ["# Fine-tuning comparison", "",
             "Mean ± std over seeds (count of seeds where fewer reached it). Score: the evaluation the table names "
             "(zero sampling x_0 = 0, or each method's authors' protocol: README \"Comparison\"), return or success rate "
             "where the task defines success. Wall time: training only (rollout + update), "
             "evaluations excluded. Update time per sample: the whole update (all epochs) divided by the samples collected "
             "in the iteration. Peak RSS is the whole process (torch, envs, buffers); stored floats / sample is what the "
             "algorithm keeps per env step in the buffer (stored + old log-prob).", "", *notes]
    csv_rows = []
    for protocol, read in by_protocol(runs):
        table_lines, rows = task_tables(read, protocol, budgets, thresholds)
        lines += table_lines
        csv_rows += rows
    return "\n".join(lines), csv_rows


def seconds_per_100k_env_steps(rows: list[dict[str, float]]) -> float:
    """Training time (rollout + update, summed over resumed sittings) per 100,000 env steps, at the last row."""
    timed = [r for r in rows if math.isfinite(r.get("time/train_s", math.nan)) and r.get("env_steps", 0) > 0]
    return timed[-1]["time/train_s"] / timed[-1]["env_steps"] * 1e5 if timed else math.nan


def task_tables(runs: list[RunData], protocol: str, budgets: list[float],
                thresholds: dict[str, list[float]]) -> tuple[list[str], list[dict]]:
    lines, csv_rows = [], []
    for task in sorted({r.task for r in runs}):
        task_runs = [r for r in runs if r.task == task]
        kind = task_runs[0].kind
        ends = [r.evals()[0][-1] for r in task_runs if len(r.evals()[0])]
        common = min(ends) if ends else 0.0
        points = [b * common if b <= 1 else b for b in budgets]
        relative = task not in thresholds
        levels = thresholds.get(task, [0.1, 0.25])
        def level_name(v: float) -> str:
            if not relative:
                return f"{v:g}"
            return f"pre+{v:g}" if kind == "success" else f"pre+{v:.0%}"
        header = (["algorithm", "seeds", "pretrained"] + [f"@{p:,.0f} steps" for p in points] + ["final"]
                  + [f"steps to {level_name(v)}" for v in levels]
                  + ["s / iteration", "training s / 100k env steps", "update µs / sample", "peak RSS MB",
                     "stored floats / sample", "actor LR used, min / max"])
        score = "success rate" if kind == "success" else "return"
        lines += [f"## {task} — {PROTOCOLS[protocol]} ({score}; budgets as fractions of {common:,.0f} env steps, "
                  "the shortest run)",
                  "",
                  "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for algo in sorted({r.algo for r in task_runs}, key=lambda a: [r.algo for r in task_runs].index(a)):
            group = [r for r in task_runs if r.algo == algo]
            n = len(group)
            cells: dict[str, list[float]] = {"pretrained": [], "final": []}
            for r in group:
                steps, _, score = r.evals()
                cells["pretrained"].append(float(score[0]) if len(score) and steps[0] == 0 else math.nan)
                cells["final"].append(float(score[-1]) if len(score) else math.nan)
                for p in points:
                    cells.setdefault(f"@{p:.0f}", []).append(interpolate_at(steps, score, p))
                for v in levels:
                    pre = cells["pretrained"][-1]
                    target = v if not relative else (pre + v if kind == "success" else pre + v * abs(pre))
                    reached = first_reaching(steps, score, target) if math.isfinite(target) else math.nan
                    cells.setdefault(f"to{v}", []).append(reached)
                for key, name in (("time/iteration_s", "iter_s"), ("time/update_us_per_sample", "update_us")):
                    col = r.column(key)
                    cells.setdefault(name, []).append(float(col.mean()) if len(col) else math.nan)
                cells.setdefault("per_100k", []).append(seconds_per_100k_env_steps(r.rows))
                for key, name in (("memory/peak_rss_mb", "rss"), ("memory/stored_floats_per_sample", "stored")):
                    col = r.column(key)
                    cells.setdefault(name, []).append(float(col.max()) if len(col) else math.nan)
                lr = r.column("ppo/actor_lr_used")  # the critic-only warm-up iterations log none
                cells.setdefault("actor_lr_min", []).append(float(lr.min()) if len(lr) else math.nan)
                cells.setdefault("actor_lr_max", []).append(float(lr.max()) if len(lr) else math.nan)
            row = [
                algo,
                str(n),
                fmt(cells["pretrained"]),
                *[fmt(cells[f"@{p:.0f}"], total=n) for p in points],
                fmt(cells["final"]),
                *[fmt(cells[f"to{v}"], total=n) for v in levels],
                fmt(cells["iter_s"]),
                fmt(cells["per_100k"]),
                fmt(cells["update_us"]),
                fmt(cells["rss"], 4),
                fmt(cells["stored"], 4),
                f"{fmt(cells['actor_lr_min'], 2)} / {fmt(cells['actor_lr_max'], 2)}",
            ]
            lines.append("| " + " | ".join(row) + " |")
            for name, values in cells.items():
                mean, std, count = mean_std(values)
                csv_rows.append({"task": task, "protocol": protocol, "algo": algo, "metric": name, "mean": mean,
                                 "std": std, "seeds": count})
        lines.append("")
    return lines, csv_rows


# ---- plots ------------------------------------------------------------------------------------------
def band(curves: list[tuple[np.ndarray, np.ndarray]], grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and std over seeds on a common grid (each seed only inside its own range)."""
    stacked = np.full((len(curves), len(grid)), np.nan)
    for i, (x, y) in enumerate(curves):
        if len(x):
            inside = (grid >= x[0]) & (grid <= x[-1])
            stacked[i, inside] = np.interp(grid[inside], x, y)
    count = np.sum(np.isfinite(stacked), axis=0)
    with np.errstate(invalid="ignore"):
        mean = np.where(count > 0, np.nansum(stacked, axis=0) / np.maximum(count, 1), np.nan)
        var = np.where(count > 1, np.nansum((stacked - mean) ** 2, axis=0) / np.maximum(count - 1, 1), 0.0)
    return mean, np.sqrt(var), count


def plot(runs: list[RunData], directory: Path, levels: dict[str, float]) -> list[Path]:
    """<task>_<axis>.png (zero sampling) and <task>_authors_<axis>.png; `levels`: a reference score per task (the
    expert's) drawn as a dashed line."""
    written = []
    for protocol, read in by_protocol(runs):
        written += plot_protocol(read, directory, protocol, levels)
    return written


def plot_protocol(runs: list[RunData], directory: Path, protocol: str, levels: dict[str, float]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for task in sorted({r.task for r in runs}):
        task_runs = [r for r in runs if r.task == task]
        label = "success rate" if task_runs[0].kind == "success" else "return"
        for axis, xlabel, index in (("env_steps", "env steps", 0), ("wall_time", "training wall time (s)", 1)):
            fig, ax = plt.subplots(figsize=(6.5, 4.2))
            for algo in dict.fromkeys(r.algo for r in task_runs):
                curves = []
                for r in task_runs:
                    if r.algo == algo:
                        evals = r.evals()
                        x, y = evals[index], evals[2]
                        keep = np.isfinite(x)
                        curves.append((x[keep], y[keep]))
                xs = np.concatenate([c[0] for c in curves]) if curves else np.zeros(0)
                if not len(xs):
                    continue
                # up to where every seed has data (the shortest seed), so the mean never switches seed sets
                end = min(c[0].max() for c in curves if len(c[0]))
                grid = np.unique(xs[xs <= end]) if index == 0 else np.linspace(0.0, end, 200)
                mean, std, count = band(curves, grid)
                (line,) = ax.plot(
                    grid,
                    mean,
                    label=f"{algo} ({len(curves)} seed{'s' * (len(curves) > 1)})",
                    marker="." if len(grid) < 30 else None,
                )
                if max(count) > 1:
                    ax.fill_between(grid, mean - std, mean + std, color=line.get_color(), alpha=0.2, linewidth=0)
            if task in levels:
                ax.axhline(levels[task], color="black", linestyle="--", linewidth=1, label=f"expert ({levels[task]:g})")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"{label} ({PROTOCOLS[protocol]})")
            ax.set_title(f"{task}: {label} vs {xlabel.split(' (')[0]} (band: ± 1 std over seeds)", fontsize=9)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
            fig.tight_layout()
            path = directory / f"{task}{'' if protocol == 'zero' else '_' + protocol}_{axis}.png"
            fig.savefig(path, dpi=110)
            plt.close(fig)
            written.append(path)
    return written


def write_all_metrics(runs: list[RunData], path: Path) -> None:
    columns = list(dict.fromkeys(["task", "algo", "seed", *(k for r in runs for row in r.rows for k in row)]))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for r in runs:
            for row in r.rows:
                writer.writerow({"task": r.task, "algo": r.algo, "seed": r.seed, **row})


def report(out: Path, budgets: list[float], thresholds: dict[str, list[float]], algos: list[str] | None = None,
           levels: dict[str, float] | None = None) -> str:
    """Aggregate every run under out/runs into summary.md / summary.csv / all_metrics.csv / plots."""
    runs = read_runs(out)
    if algos:  # keep the command line's order of algorithms (lines, table rows)
        runs.sort(key=lambda r: (algos.index(r.algo) if r.algo in algos else len(algos), r.algo, r.seed))
    if not runs:
        raise SystemExit(f"no finished runs (metrics.csv and report.json) under {out / 'runs'}")
    markdown, rows = summarize(runs, budgets, thresholds, unfinished_note(out))
    (out / "summary.md").write_text(markdown)
    with open(out / "summary.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["task", "protocol", "algo", "metric", "mean", "std", "seeds"])
        writer.writeheader()
        writer.writerows(rows)
    write_all_metrics(runs, out / "all_metrics.csv")
    plots = plot(runs, out / "plots", levels or {})
    return markdown + "\n" + "\n".join(f"plot: {p}" for p in plots) + "\n"


def start(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[RunSpec]]:
    """Everything that can fail on bad input, before any run starts: the arguments and every run's config."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--algos", nargs="+", default=["genpopp", "reinflow", "dppo", "fpo", "ppo"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--tasks", nargs="+", default=["hopper"])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/compare"))
    parser.add_argument(
        "--env-steps", type=int, default=0, help="env-step budget of every run (0: the configured iterations)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel (each a single-threaded process)")
    parser.add_argument(
        "--budgets",
        nargs="+",
        type=float,
        default=[0.25, 0.5, 1.0],
        help="env-step budgets for the table: <= 1 a fraction of the shortest run, > 1 absolute",
    )
    parser.add_argument(
        "--thresholds",
        nargs="*",
        default=[],
        help="task=v1,v2 absolute score thresholds (default: pretrained +10%%/+25%% return, +0.1/+0.25 success)",
    )
    parser.add_argument("--expert", nargs="*", default=[], help="task=score: the expert's level, drawn in the plots")
    parser.add_argument("--replot-only", action="store_true", help="aggregate and plot the existing runs, run nothing")
    args, overrides = parser.parse_known_args(argv)
    bad = [o for o in overrides if "=" not in o]
    if bad:
        parser.error(f"unrecognised arguments {bad}: overrides are key=value (optionally <task|algo>:key=value)")
    args.out = resolve_path(args.out) if not args.out.is_absolute() else args.out
    runs = []
    if not args.replot_only:
        from finetune.config import FinetuneConfig

        runs = plan(args, overrides)
        for run in runs:  # an unknown task or algo, a bad key or value: one line here, not a failure in every run's log
            load_config(FinetuneConfig, "finetune", [f"task={run.task}", f"algo={run.algo}", *run.overrides])
    return args, runs


def run_and_report(args: argparse.Namespace, runs: list[RunSpec]) -> int:
    failures = []
    if not args.replot_only:
        print(f"{len(runs)} runs -> {args.out / 'runs'}", flush=True)
        failures = run_all(runs, args.jobs)
    levels = {task: values[0] for task, values in parse_thresholds(args.expert).items() if values}
    print(report(args.out, args.budgets, parse_thresholds(args.thresholds), args.algos, levels))
    if failures:
        print(f"{len(failures)} run(s) failed: {', '.join(failures)}")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    return run_and_report(*start(argv))


if __name__ == "__main__":
    with user_errors():  # a bad task, algo or override: one line on stderr, exit status 2
        started = start()
    raise SystemExit(run_and_report(*started))
