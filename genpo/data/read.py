"""Read a LeRobotDataset v3.0 directory (numeric features) into memory without importing lerobot:
`read_dataset(root)` -> LeRobotData (info, stats, columns, episode bounds, tasks). Only pyarrow
(parquet) and JSON are used; layout and array conventions in genpo.data.layout.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from genpo.data.layout import (
    CODEBASE_VERSION,
    DATA_DIR,
    EPISODES_DIR,
    INDEX_FEATURES,
    INFO_PATH,
    STATS_PATH,
    TASKS_PATH,
)


@dataclass
class LeRobotData:
    """A LeRobotDataset v3.0 loaded into memory (numeric features only).

    columns: every frame column. Float features (shape (d,)) are (T_total, d) arrays, also for
        d == 1; index columns (timestamp, frame_index, episode_index, index, task_index) and
        non-float shape-(1,) features (e.g. next.done) are (T_total,).
    episode_bounds: (num_episodes, 2) int64 array of [start, end) row ranges, in episode order.
    """

    root: Path
    info: dict
    stats: dict[str, dict[str, np.ndarray]]
    columns: dict[str, np.ndarray]
    episode_index: np.ndarray
    episode_bounds: np.ndarray
    tasks: list[str] = field(default_factory=list)
    skipped_features: list[str] = field(default_factory=list)  # image/video features not loaded

    @property
    def fps(self) -> int:
        return int(self.info["fps"])

    @property
    def features(self) -> dict[str, dict]:
        return self.info["features"]

    @property
    def feature_keys(self) -> list[str]:
        """The loaded non-index features, in info.json order."""
        return [k for k in self.columns if k not in INDEX_FEATURES]

    @property
    def num_frames(self) -> int:
        return int(self.episode_index.shape[0])

    @property
    def num_episodes(self) -> int:
        return int(self.episode_bounds.shape[0])

    def episodes(self) -> list[tuple[int, int]]:
        """[(start, end), ...] row ranges of every episode (end exclusive)."""
        return [(int(s), int(e)) for s, e in self.episode_bounds]

    def episode(self, i: int) -> dict[str, np.ndarray]:
        """Columns of episode i (views, not copies)."""
        start, end = self.episode_bounds[i]
        return {k: v[start:end] for k, v in self.columns.items()}

    def episode_lengths(self) -> np.ndarray:
        return self.episode_bounds[:, 1] - self.episode_bounds[:, 0]

    def episode_returns(self, key: str = "next.reward") -> np.ndarray:
        """Sum of `key` over each episode (float64)."""
        r = self.columns[key].reshape(self.num_frames, -1)[:, 0].astype(np.float64)
        return np.array([r[s:e].sum() for s, e in self.episode_bounds])


def _load_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path} (not a complete LeRobotDataset v3.0 directory?)")
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{what} is not valid JSON: {path}: {e}") from e


def _read_parquet(path: Path, what: str, columns: list[str] | None = None) -> pa.Table:
    try:
        return pq.read_table(path, columns=columns)
    except (pa.ArrowException, OSError, KeyError) as e:
        raise ValueError(f"cannot read {what} {path}: {e}") from e


def _sorted_parquet_files(directory: Path, what: str) -> list[Path]:
    if not directory.is_dir():
        raise FileNotFoundError(f"{what} directory not found: {directory}")
    files = sorted(directory.glob("chunk-*/file-*.parquet"))
    if not files:
        raise FileNotFoundError(f"no {what} parquet files (chunk-*/file-*.parquet) under {directory}")
    return files


def _to_numpy(col: pa.ChunkedArray, key: str, ft: dict) -> np.ndarray:
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if arr.null_count:
        raise ValueError(f"column {key!r} has {arr.null_count} null values")
    typ = arr.type
    n = len(arr)
    if pa.types.is_fixed_size_list(typ) or pa.types.is_list(typ) or pa.types.is_large_list(typ):
        values = arr.flatten()
        if values.null_count:
            raise ValueError(f"column {key!r} has null values")
        np_values = values.to_numpy(zero_copy_only=False)
        if n and np_values.size % n:
            raise ValueError(f"column {key!r}: ragged lists")
        width = np_values.size // n if n else int(np.prod(ft["shape"]))
        out = np_values.reshape(n, width)
    elif pa.types.is_struct(typ) or pa.types.is_binary(typ) or pa.types.is_string(typ):
        raise ValueError(f"column {key!r} has non-numeric type {typ}")
    else:
        out = arr.to_numpy(zero_copy_only=False)
    want = int(np.prod(ft["shape"]))
    width = out.shape[1] if out.ndim == 2 else 1
    if width != want:
        raise ValueError(f"column {key!r} has width {width}, info.json says shape {ft['shape']}")
    dtype = np.dtype(ft["dtype"]) if ft["dtype"] != "bool" else np.dtype(np.bool_)
    out = out.astype(dtype, copy=False)
    is_float = dtype.kind == "f"
    if key in INDEX_FEATURES or (not is_float and want == 1):
        return np.ascontiguousarray(out.reshape(n))
    return np.ascontiguousarray(out.reshape(n, want))


def read_dataset(root: str | os.PathLike) -> LeRobotData:
    """Load a LeRobotDataset v3.0 directory (numeric features) into memory.

    Raises FileNotFoundError for a missing directory or missing meta/data files and ValueError
    for a wrong codebase_version or inconsistent/corrupted content.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"dataset directory not found: {root}")
    if not root.is_dir():
        raise FileNotFoundError(f"dataset path is not a directory: {root}")

    info = _load_json(root / INFO_PATH, "meta/info.json")
    if not isinstance(info, dict):
        raise ValueError(f"meta/info.json must hold a JSON object: {root / INFO_PATH}")
    version = info.get("codebase_version")
    if version != CODEBASE_VERSION:
        raise ValueError(
            f"{root}: codebase_version is {version!r}, this reader supports only {CODEBASE_VERSION!r} "
            "(convert older datasets with lerobot's datasets/v30/convert_dataset_v21_to_v30.py)"
        )
    missing = [k for k in ("fps", "features", "total_frames", "total_episodes") if k not in info]
    if missing:
        raise ValueError(f"{root / INFO_PATH}: missing keys {missing}")
    features: dict[str, dict] = info["features"]

    stats_json = _load_json(root / STATS_PATH, "meta/stats.json")
    stats = {
        key: {name: np.asarray(value) for name, value in st.items()} for key, st in stats_json.items()
    }

    tasks_path = root / TASKS_PATH
    if not tasks_path.is_file():
        raise FileNotFoundError(f"meta/tasks.parquet not found: {tasks_path}")
    tasks_table = _read_parquet(tasks_path, "tasks file")
    tasks = _task_strings(tasks_table, tasks_path)

    ep_files = _sorted_parquet_files(root / EPISODES_DIR, "episode metadata")
    ep_cols = ["episode_index", "dataset_from_index", "dataset_to_index"]
    ep_tables = [_read_parquet(p, "episode metadata file", columns=ep_cols) for p in ep_files]
    ep_table = pa.concat_tables(ep_tables)
    ep_idx = np.asarray(ep_table["episode_index"].to_numpy(), dtype=np.int64)
    order = np.argsort(ep_idx, kind="stable")
    bounds = np.stack(
        [ep_table["dataset_from_index"].to_numpy()[order], ep_table["dataset_to_index"].to_numpy()[order]], axis=1
    ).astype(np.int64)
    if len(bounds) != info["total_episodes"]:
        raise ValueError(f"{root}: {len(bounds)} episode rows, info.json says {info['total_episodes']}")

    loadable = {k: ft for k, ft in features.items() if ft.get("dtype") not in ("video", "image", "string")}
    skipped = [k for k in features if k not in loadable]
    data_files = _sorted_parquet_files(root / DATA_DIR, "data")
    tables = [_read_parquet(p, "data file") for p in data_files]
    for p, t in zip(data_files, tables, strict=True):
        absent = [k for k in loadable if k not in t.column_names]
        if absent:
            raise ValueError(f"data file {p} lacks feature columns {absent}")
    try:
        table = pa.concat_tables([t.select(list(loadable)) for t in tables])
    except pa.ArrowInvalid as e:
        raise ValueError(f"{root}: data files have inconsistent schemas: {e}") from e
    columns = {key: _to_numpy(table[key], key, ft) for key, ft in loadable.items()}

    n = table.num_rows
    if n != info["total_frames"]:
        raise ValueError(f"{root}: {n} frames in data files, info.json says total_frames={info['total_frames']}")
    episode_index = columns["episode_index"] if "episode_index" in columns else None
    if episode_index is None:
        raise ValueError(f"{root}: no episode_index column")
    # Bounds must tile [0, n) in order and agree with the per-frame episode_index.
    if len(bounds) and (
        bounds[0, 0] != 0
        or bounds[-1, 1] != n
        or np.any(bounds[1:, 0] != bounds[:-1, 1])
        or np.any(bounds[:, 1] <= bounds[:, 0])
    ):
        raise ValueError(f"{root}: episode bounds in meta/episodes do not tile the {n} frames")
    expected = np.repeat(ep_idx[order], bounds[:, 1] - bounds[:, 0])
    if not np.array_equal(expected, episode_index):
        raise ValueError(f"{root}: frame episode_index disagrees with meta/episodes bounds")
    return LeRobotData(
        root=root,
        info=info,
        stats=stats,
        columns=columns,
        episode_index=episode_index,
        episode_bounds=bounds,
        tasks=tasks,
        skipped_features=skipped,
    )


def _task_strings(table: pa.Table, path: Path) -> list[str]:
    """Task strings ordered by task_index, from the pandas index column (or a 'task' column)."""
    meta = table.schema.metadata or {}
    task_col = None
    if b"pandas" in meta:
        try:
            index_cols = json.loads(meta[b"pandas"]).get("index_columns", [])
        except json.JSONDecodeError:
            index_cols = []
        names = [c for c in index_cols if isinstance(c, str)]
        if names:
            task_col = names[0]
    if task_col is None and "task" in table.column_names:
        task_col = "task"
    if task_col is None or "task_index" not in table.column_names:
        raise ValueError(f"cannot find task strings and task_index in {path}")
    idx = table["task_index"].to_numpy()
    strings = table[task_col].to_pylist()
    out = [""] * len(strings)
    for i, s in zip(idx, strings, strict=True):
        if not 0 <= i < len(out):
            raise ValueError(f"{path}: task_index {i} out of range")
        out[int(i)] = s
    return out

