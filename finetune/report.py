"""The end-of-run report: pretrained vs fine-tuned (zero, stochastic, authors' protocol), PNG curves, markdown + JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

from finetune.conversion import conversion_text
from genpo.io import atomic_write_text

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CURVES = [("return", ["train/return", "eval_zero/return_mean", "eval_stochastic/return_mean",
                       "eval_authors/return_mean"]),
          ("success rate", ["train/success_rate", "eval_zero/success_rate", "eval_stochastic/success_rate",
                             "eval_authors/success_rate"]),
          ("pair KL (k3)", ["ppo/kl"]),
          ("action drift", ["genpopp/action_drift", "reinflow/action_drift", "fpo/action_drift", "ppo_gaussian/action_drift"]),
          ("explained variance", ["ppo/explained_variance"])]


def plot_curves(rows: list[dict[str, float]], path: Path) -> None:
    """curves.png: one panel per logged quantity; no file when nothing was logged."""
    panels = [(title, [k for k in keys if any(math.isfinite(r.get(k, math.nan)) for r in rows)]) for title, keys in CURVES]
    panels = [(title, keys) for title, keys in panels if keys]
    if not panels:  # nothing was logged (e.g. ppo.iterations=0 eval_episodes=0)
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5), squeeze=False)
    for ax, (title, keys) in zip(axes[0], panels):
        for key in keys:
            points = [(r["env_steps"], r[key]) for r in rows if math.isfinite(r.get(key, math.nan))]
            ax.plot(*zip(*points), marker="." if len(points) < 30 else None, label=key)
        ax.set_title(title)
        ax.set_xlabel("env steps")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def score_lines(label: str, evals: dict[str, float]) -> list[str]:
    lines = []
    for mode in ("eval_zero", "eval_stochastic", "eval_authors"):
        if f"{mode}/return_mean" not in evals:
            continue
        line = f"| {label} | {mode.split('_')[1]} | {evals[f'{mode}/return_mean']:.1f} ± {evals[f'{mode}/return_std']:.1f}"
        success = evals.get(f"{mode}/success_rate")
        lines.append(line + (f" | {success:.2f} |" if success is not None else " | – |"))
    return lines


def write_report(run_dir: Path, summary: dict, rows: list[dict[str, float]]) -> str:
    """Write report.md, report.json and curves.png into run_dir; return the markdown."""
    plot_curves(rows, run_dir / "curves.png")
    lines = [f"# {summary['algo']} on {summary['task']} (seed {summary['seed']})", "",
             "| policy | sampling | return (mean ± std) | success |", "|---|---|---|---|",
             *score_lines("pretrained", summary["pretrained"]), *score_lines("fine-tuned", summary["final"]), "",
             f"- env steps: {summary['env_steps']:,} over {summary['iterations']} iterations, {summary['processes']} process(es)",
             f"- authors' protocol: {summary['authors_protocol']}",
             f"- wall time: {summary['wall_time_s']:.0f} s in the last sitting (evaluations included); training (rollout + "
             f"update) over all sittings: {summary['train_time_s']:.0f} s", f"- checkpoint: {summary['checkpoint']}",
             *([f"- {line}" for line in conversion_text(summary["conversion"]).splitlines()] if summary["conversion"] else []),
             ""]
    markdown = "\n".join(lines)
    atomic_write_text(run_dir / "report.md", markdown)
    atomic_write_text(run_dir / "report.json", json.dumps(summary, indent=2))
    return markdown
