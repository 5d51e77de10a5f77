"""Run logging: TensorBoard events + a metrics CSV in the run directory (main process only)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter


class MetricsLogger:
    def __init__(self, run_dir: str | Path, enabled: bool = True, resume: bool = False):
        """resume=True continues an existing metrics.csv; otherwise it is started afresh."""
        self.enabled = enabled
        self.path = Path(run_dir) / "metrics.csv"
        self.rows: list[dict[str, float]] = self.read_csv(self.path) if resume and self.path.exists() else []
        self.writer = SummaryWriter(str(Path(run_dir) / "tensorboard")) if enabled else None

    @staticmethod
    def read_csv(path: str | Path) -> list[dict[str, float]]:
        with open(path, newline="") as f:
            return [{k: float(v) if v != "" else math.nan for k, v in row.items()} for row in csv.DictReader(f)]

    def log(self, step: int, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        row = {"step": float(step), **{k: float(v) for k, v in metrics.items()}}
        for key, value in row.items():
            if key != "step" and math.isfinite(value):
                self.writer.add_scalar(key, value, step)
        self.rows.append(row)
        columns = list(dict.fromkeys(k for r in self.rows for k in r))
        tmp = self.path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.rows)
        tmp.replace(self.path)

    def truncate(self, last_step: int) -> None:
        """Drop rows logged after `last_step` (used when resuming from an earlier checkpoint)."""
        self.rows = [r for r in self.rows if r["step"] <= last_step]

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
