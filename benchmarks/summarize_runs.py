"""Summarise fine-tuning run directories (metrics.csv + report.json): evaluations against env steps, wall
time, and the trust-region diagnostics (actor LR, pair KL, clip fraction, |r - 1| at theta_old).

    python benchmarks/summarize_runs.py benchmarks/results/isaaclab_cartpole/genpopp_s0 \
        benchmarks/results/isaaclab_cartpole/genpopp_s1
"""

from __future__ import annotations

import csv
import json
import statistics
import sys
from pathlib import Path


def column(rows: list[dict], key: str) -> list[float]:
    return [float(r[key]) for r in rows if r.get(key)]


def summary(run: Path) -> str:
    rows = list(csv.DictReader(open(run / "metrics.csv", newline="")))
    trained = [r for r in rows if r.get("ppo/kl")]  # iterations in which the actor moved
    lines = [
        f"{run}: wall time {json.loads((run / 'report.json').read_text())['wall_time_s']:.0f} s",
        f"  actor LR after the first actor update {float(trained[0]['ppo/actor_lr']):g}, median "
        f"{statistics.median(column(rows, 'ppo/actor_lr')):.3g}; pair KL median {statistics.median(column(rows, 'ppo/kl')):.3g}; "
        f"clip fraction median {statistics.median(column(rows, 'ppo/clip_fraction')):.3g}; "
        f"max |r - 1| at theta_old {max(column(rows, 'ppo/ratio_check')):g}",
        "  zero / stochastic return at env steps: "
        + ", ".join(
            f"{int(float(r['env_steps'])):,}: {float(r['eval_zero/return_mean']):.2f} / "
            f"{float(r['eval_stochastic/return_mean']):.2f}"
            for r in rows
            if r.get("eval_zero/return_mean")
        ),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print("\n".join(summary(Path(arg)) for arg in sys.argv[1:]))
