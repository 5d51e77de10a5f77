"""Read and write the LeRobotDataset **v3.0** on-disk layout without importing lerobot.

Only pyarrow (parquet) and JSON are used, so the project can build and read datasets on machines
without lerobot. Scope: low-dimensional numeric features (no images, no videos). The layout
matches what lerobot 0.6 writes itself (checked field by field against
`LeRobotDataset.create(...).save_episode()` output and loaded back with `LeRobotDataset` in
tests/test_datasets.py)::

    <root>/
      meta/info.json                              codebase_version "v3.0", fps, features, totals, paths
      meta/stats.json                             per feature: min max mean std count q01 q10 q50 q90 q99
      meta/tasks.parquet                          pandas frame: index = task string, column task_index
      meta/episodes/chunk-000/file-000.parquet    one row per episode (bounds, file refs, per-episode stats)
      data/chunk-000/file-000.parquet             one row per frame; more files when a file gets large

Frame columns: every user feature, plus the index columns `timestamp` (float32, frame_index/fps),
`frame_index`, `episode_index`, `index` (global frame number), `task_index` (int64).

Array conventions (writer input and reader output):
- Features of shape (d,) with d > 1 are stored as `fixed_size_list<float>[d]` (what HF `datasets`
  writes for `Sequence(length=d)`); shape (1,) features are stored as plain scalar columns, exactly
  as lerobot does.
- The writer accepts (T,) or (T, d) arrays; floats are stored as float32, bools as bool, integers
  as int64.
- The reader returns float features as (T_total, d) float arrays, always 2-D (also for d == 1,
  e.g. `next.reward` is (T_total, 1)); the index columns and non-float features of shape (1,)
  (e.g. `next.done`) come back 1-D (T_total,).

Statistics: lerobot 0.6 reads min/max/mean/std/count and, for its QUANTILES / QUANTILE10
normalisation modes (pi0.5), q01/q99 and q10/q90; a dataset without them fails there with
"QUANTILES normalization mode requires q01 and q99 stats". We therefore always write
q01, q10, q50, q90, q99. Ours are exact (`np.quantile`, linear interpolation over all frames);
lerobot's own writer approximates them with 5000-bin histograms per episode and averages episode
quantiles weighted by length, so the two agree only approximately. std is the population std.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "CODEBASE_VERSION",
    "INDEX_FEATURES",
    "QUANTILES",
    "LeRobotData",
    "compute_stats",
    "read_dataset",
    "write_dataset",
]

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000  # max files per chunk-XXX directory (lerobot's DEFAULT_CHUNK_SIZE)
DATA_FILES_SIZE_IN_MB = 100  # lerobot's DEFAULT_DATA_FILE_SIZE_IN_MB
VIDEO_FILES_SIZE_IN_MB = 200  # lerobot's DEFAULT_VIDEO_FILE_SIZE_IN_MB (recorded in info.json only)

INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
EPISODES_DIR = "meta/episodes"
DATA_DIR = "data"
CHUNK_FILE_PATTERN = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DATA_PATH = DATA_DIR + "/" + CHUNK_FILE_PATTERN + ".parquet"
EPISODES_PATH = EPISODES_DIR + "/" + CHUNK_FILE_PATTERN + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE_PATTERN + ".mp4"

# Index columns lerobot adds to every dataset, in lerobot's order (DEFAULT_FEATURES).
INDEX_FEATURES: dict[str, dict[str, Any]] = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}
RESERVED_KEYS = set(INDEX_FEATURES) | {"task"}

QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
QUANTILE_KEYS = tuple(f"q{int(round(q * 100)):02d}" for q in QUANTILES)  # q01 q10 q50 q90 q99
STAT_KEYS = ("min", "max", "mean", "std", "count", *QUANTILE_KEYS)

PARQUET_COMPRESSION = "zstd"
PARQUET_COMPRESSION_LEVEL = 9


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


def _feature_stats(values: np.ndarray) -> dict[str, np.ndarray]:
    arr = np.asarray(values)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"stats expect (T,) or (T, d) arrays, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError("cannot compute statistics of an empty column")
    x = arr.astype(np.float64)
    out: dict[str, np.ndarray] = {}
    # All statistics in float64, bool and int columns included, as lerobot 0.6 writes them.
    out["min"] = x.min(axis=0)
    out["max"] = x.max(axis=0)
    out["mean"] = x.mean(axis=0)
    out["std"] = x.std(axis=0)
    out["count"] = np.array([arr.shape[0]], dtype=np.int64)
    qs = np.quantile(x, QUANTILES, axis=0)
    for key, q in zip(QUANTILE_KEYS, qs, strict=True):
        out[key] = q
    return out


def compute_stats(columns: Mapping[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Per-column statistics in lerobot's stats.json schema.

    `columns` maps a feature key to a (T,) or (T, d) array (time first). Returns, for every key,
    min, max, mean, std (population), q01, q10, q50, q90, q99 (all float64, as lerobot 0.6 writes
    them; exact quantiles with linear interpolation), each of shape (d,) ((1,) for 1-D columns), and
    count of shape (1,).
    """
    return {key: _feature_stats(values) for key, values in columns.items()}


def _stats_to_json(stats: Mapping[str, Mapping[str, np.ndarray]]) -> dict:
    out: dict[str, dict[str, list]] = {}
    for key, st in stats.items():
        out[key] = {}
        for name, value in st.items():
            value = np.asarray(value)
            if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
                raise ValueError(f"non-finite statistic {key}/{name}: {value}")
            out[key][name] = value.tolist()
    return out


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _np_dtype_name(arr: np.ndarray, key: str) -> str:
    kind = arr.dtype.kind
    if kind == "f":
        return "float32"
    if kind == "b":
        return "bool"
    if kind in "iu":
        return "int64"
    raise ValueError(f"feature {key!r}: unsupported dtype {arr.dtype} (use float, bool or int arrays)")


def _prepare_episode(ep: Any, ep_idx: int, spec: dict[str, dict] | None) -> tuple[dict[str, np.ndarray], int]:
    """Validate one episode and return ({key: (T, d) array in its storage dtype}, T)."""
    if not isinstance(ep, Mapping):
        raise TypeError(f"episode {ep_idx}: expected a dict of arrays, got {type(ep).__name__}")
    if len(ep) == 0:
        raise ValueError(f"episode {ep_idx}: no features")
    out: dict[str, np.ndarray] = {}
    length: int | None = None
    for key, value in ep.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"episode {ep_idx}: feature keys must be non-empty strings, got {key!r}")
        if "/" in key:
            raise ValueError(f"episode {ep_idx}: feature key {key!r} must not contain '/'")
        if key in RESERVED_KEYS:
            raise ValueError(
                f"episode {ep_idx}: {key!r} is written by write_dataset itself; do not pass it"
            )
        arr = np.asarray(value)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(
                f"episode {ep_idx}, feature {key!r}: expected a (T,) or (T, d) array, got shape {arr.shape}"
            )
        if length is None:
            length = arr.shape[0]
        elif arr.shape[0] != length:
            raise ValueError(
                f"episode {ep_idx}: feature {key!r} has {arr.shape[0]} frames, others have {length}"
            )
        dtype = _np_dtype_name(arr, key)
        if dtype == "float32":
            arr = arr.astype(np.float32)
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"episode {ep_idx}, feature {key!r}: contains NaN or inf")
        elif dtype == "int64":
            arr = arr.astype(np.int64)
        else:
            arr = arr.astype(np.bool_)
        if spec is not None:
            if key not in spec:
                raise ValueError(f"episode {ep_idx}: unexpected feature {key!r} (episode 0 has {sorted(spec)})")
            want = spec[key]
            if want["dtype"] != dtype or want["shape"][0] != arr.shape[1]:
                raise ValueError(
                    f"episode {ep_idx}, feature {key!r}: dtype {dtype} shape ({arr.shape[1]},) differs from "
                    f"episode 0 ({want['dtype']}, ({want['shape'][0]},))"
                )
        out[key] = np.ascontiguousarray(arr)
    if spec is not None and set(out) != set(spec):
        raise ValueError(f"episode {ep_idx}: missing features {sorted(set(spec) - set(out))}")
    if not length:
        raise ValueError(f"episode {ep_idx}: has no frames")
    return out, int(length)


def _arrow_column(arr: np.ndarray) -> pa.Array:
    """(T, d) numpy -> arrow: scalar column when d == 1, else fixed_size_list<..>[d]."""
    if arr.shape[1] == 1:
        return pa.array(arr[:, 0])
    return pa.FixedSizeListArray.from_arrays(pa.array(arr.reshape(-1)), arr.shape[1])


def _write_parquet(table: pa.Table, path: Path) -> None:
    # Dictionary encoding only where values repeat (ints, bools, strings); for float data it
    # wastes space (PushT: 1.9 MB with it, 1.2 MB without). Plain encodings + zstd only, so any
    # parquet reader can open the files.
    def leaf(t: pa.DataType) -> pa.DataType:
        while pa.types.is_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_large_list(t):
            t = t.value_type
        return t

    dict_cols = [f.name for f in table.schema if not pa.types.is_floating(leaf(f.type))]
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        table,
        path,
        compression=PARQUET_COMPRESSION,
        compression_level=PARQUET_COMPRESSION_LEVEL,
        use_dictionary=dict_cols,
    )


def _write_json(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=4, ensure_ascii=False, allow_nan=False)
        f.write("\n")


def _tasks_table(tasks: list[str]) -> pa.Table:
    """meta/tasks.parquet as pandas writes `DataFrame({"task_index": ...}, index=tasks)`.

    lerobot reads it with pandas and uses the *index* as the task string
    (`tasks.iloc[task_index].name`), so the pandas metadata naming the index column is required.
    """
    table = pa.table({"task_index": pa.array(range(len(tasks)), pa.int64()), "task": pa.array(tasks, pa.string())})
    pandas_meta = {
        "index_columns": ["task"],
        "column_indexes": [
            {"name": None, "field_name": None, "pandas_type": "unicode", "numpy_type": "object",
             "metadata": {"encoding": "UTF-8"}}
        ],
        "columns": [
            {"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64",
             "metadata": None},
            {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object",
             "metadata": None},
        ],
        "creator": {"library": "genpo", "version": "0.1.0"},
        "pandas_version": "2.0.0",
    }
    return table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})


def _stat_list_type(value: np.ndarray) -> pa.DataType:
    if value.dtype.kind == "b":
        return pa.list_(pa.bool_())
    if value.dtype.kind in "iu":
        return pa.list_(pa.int64())
    return pa.list_(pa.float64())


def _episodes_table(rows: list[dict[str, Any]], ep_stats: list[dict[str, dict[str, np.ndarray]]]) -> pa.Table:
    """meta/episodes parquet with lerobot's column names and order."""
    cols: dict[str, pa.Array] = {
        "episode_index": pa.array([r["episode_index"] for r in rows], pa.int64()),
        "tasks": pa.array([r["tasks"] for r in rows], pa.list_(pa.string())),
        "length": pa.array([r["length"] for r in rows], pa.int64()),
        "data/chunk_index": pa.array([r["data/chunk_index"] for r in rows], pa.int64()),
        "data/file_index": pa.array([r["data/file_index"] for r in rows], pa.int64()),
        "dataset_from_index": pa.array([r["dataset_from_index"] for r in rows], pa.int64()),
        "dataset_to_index": pa.array([r["dataset_to_index"] for r in rows], pa.int64()),
    }
    for key in ep_stats[0]:
        for name in STAT_KEYS:
            first = ep_stats[0][key][name]
            cols[f"stats/{key}/{name}"] = pa.array(
                [np.asarray(s[key][name]).tolist() for s in ep_stats], _stat_list_type(np.asarray(first))
            )
    cols["meta/episodes/chunk_index"] = pa.array([0] * len(rows), pa.int64())
    cols["meta/episodes/file_index"] = pa.array([0] * len(rows), pa.int64())
    return pa.table(cols)


def _next_chunk_file(chunk_idx: int, file_idx: int, chunks_size: int) -> tuple[int, int]:
    if file_idx == chunks_size - 1:
        return chunk_idx + 1, 0
    return chunk_idx, file_idx + 1


def write_dataset(
    root: str | os.PathLike,
    episodes: Sequence[Mapping[str, np.ndarray]],
    *,
    fps: int,
    robot_type: str | None,
    task: str | Sequence[str],
    features_names: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    data_files_size_in_mb: float = DATA_FILES_SIZE_IN_MB,
    chunks_size: int = CHUNKS_SIZE,
    extra_files: Mapping[str, str] | None = None,
) -> Path:
    """Write `episodes` as a LeRobotDataset v3.0 directory at `root` and return its path.

    episodes: one dict per episode mapping a feature key ("observation.state", "action",
        "next.reward", "next.done", ...) to an array with time as the first axis: (T,) or (T, d).
        All episodes need the same keys, dtypes and widths. Floats are stored as float32, bools
        as bool, ints as int64. The index columns (timestamp, frame_index, episode_index, index,
        task_index) are added here and must not be passed.
    fps: frames per second (timestamps are frame_index / fps).
    robot_type: free text stored in info.json (may be None).
    task: one task string for every episode, or one string per episode.
    features_names: optional {feature key: names} stored as the feature's "names" (a list of d
        strings, or a dict as lerobot allows); features not listed get names None.
    overwrite: replace an existing `root` (the old directory is removed only after the new one is
        complete). Without it an existing `root` raises FileExistsError.
    data_files_size_in_mb: start a new data/chunk-XXX/file-YYY.parquet once a file holds about
        this many MB of uncompressed frame data (whole episodes per file, as lerobot does).
    extra_files: optional {relative path: text} written into the dataset too (e.g. a README.md
        dataset card), inside the same atomic write.

    The dataset is assembled in a temporary sibling directory and renamed into place at the end,
    so a failure never leaves a half-written dataset (nor the temporary directory) behind.
    """
    root = Path(root)
    if fps is None or int(fps) != fps or fps <= 0:
        raise ValueError(f"fps must be a positive integer, got {fps!r}")
    fps = int(fps)
    if isinstance(episodes, Mapping) or not isinstance(episodes, Sequence) or len(episodes) == 0:
        raise ValueError("episodes must be a non-empty list of dicts of arrays")
    if isinstance(task, str):
        ep_tasks = [task] * len(episodes)
    else:
        ep_tasks = list(task)
        if len(ep_tasks) != len(episodes) or not all(isinstance(t, str) for t in ep_tasks):
            raise ValueError(f"task must be a string or one string per episode ({len(episodes)})")
    if any(not t for t in ep_tasks):
        raise ValueError("task strings must be non-empty")
    features_names = dict(features_names or {})
    if root.exists() and not overwrite:
        raise FileExistsError(f"{root} already exists; pass overwrite=True to replace it")

    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.parent / f".{root.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        _write_into(
            tmp, episodes, fps=fps, robot_type=robot_type, ep_tasks=ep_tasks, features_names=features_names,
            data_files_size_in_mb=data_files_size_in_mb, chunks_size=chunks_size,
        )
        for rel, text in (extra_files or {}).items():
            dest = (tmp / rel).resolve()
            if tmp.resolve() not in dest.parents:
                raise ValueError(f"extra file path {rel!r} escapes the dataset directory")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text)
        if root.exists():  # overwrite=True: swap in the new directory, then drop the old one
            old = root.parent / f".{root.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            os.replace(root, old)
            os.replace(tmp, root)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def _write_into(
    out: Path,
    episodes: Sequence[Mapping[str, np.ndarray]],
    *,
    fps: int,
    robot_type: str | None,
    ep_tasks: list[str],
    features_names: dict[str, Any],
    data_files_size_in_mb: float,
    chunks_size: int,
) -> None:
    # Tasks in order of first appearance.
    tasks: list[str] = []
    task_to_index: dict[str, int] = {}
    for t in ep_tasks:
        if t not in task_to_index:
            task_to_index[t] = len(tasks)
            tasks.append(t)

    spec: dict[str, dict] | None = None
    all_columns: dict[str, list[np.ndarray]] = {}
    ep_rows: list[dict[str, Any]] = []
    ep_stats: list[dict[str, dict[str, np.ndarray]]] = []
    pending: list[pa.Table] = []
    pending_bytes = 0
    chunk_idx, file_idx = 0, 0
    n_frames = 0

    def flush() -> None:
        nonlocal pending, pending_bytes, chunk_idx, file_idx
        if pending:
            path = out / DATA_PATH.format(chunk_index=chunk_idx, file_index=file_idx)
            _write_parquet(pa.concat_tables(pending), path)
            chunk_idx, file_idx = _next_chunk_file(chunk_idx, file_idx, chunks_size)
        pending, pending_bytes = [], 0

    for ep_idx, ep in enumerate(episodes):
        cols, length = _prepare_episode(ep, ep_idx, spec)
        if spec is None:
            spec = {}
            for key, arr in cols.items():
                names = features_names.get(key)
                if isinstance(names, (list, tuple)):
                    names = list(names)
                    if len(names) != arr.shape[1]:
                        raise ValueError(f"features_names[{key!r}] has {len(names)} names for {arr.shape[1]} dims")
                spec[key] = {"dtype": _np_dtype_name(arr, key), "shape": [int(arr.shape[1])], "names": names}
            unknown = set(features_names) - set(spec)
            if unknown:
                raise ValueError(f"features_names has keys that are not features: {sorted(unknown)}")
        frame_index = np.arange(length, dtype=np.int64)
        cols["timestamp"] = (frame_index / fps).astype(np.float32)[:, None]
        cols["frame_index"] = frame_index[:, None]
        cols["episode_index"] = np.full((length, 1), ep_idx, dtype=np.int64)
        cols["index"] = np.arange(n_frames, n_frames + length, dtype=np.int64)[:, None]
        cols["task_index"] = np.full((length, 1), task_to_index[ep_tasks[ep_idx]], dtype=np.int64)

        ep_bytes = sum(a.nbytes for a in cols.values())
        if pending and (pending_bytes + ep_bytes) / 2**20 >= data_files_size_in_mb:
            flush()
        ep_rows.append(
            {
                "episode_index": ep_idx,
                "tasks": [ep_tasks[ep_idx]],
                "length": length,
                "data/chunk_index": chunk_idx,
                "data/file_index": file_idx,
                "dataset_from_index": n_frames,
                "dataset_to_index": n_frames + length,
            }
        )
        ep_stats.append(compute_stats(cols))
        pending.append(pa.table({key: _arrow_column(arr) for key, arr in cols.items()}))
        pending_bytes += ep_bytes
        for key, arr in cols.items():
            all_columns.setdefault(key, []).append(arr)
        n_frames += length
    flush()
    assert spec is not None

    features = {**spec, **{k: dict(v) for k, v in INDEX_FEATURES.items()}}
    info = {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": robot_type,
        "total_episodes": len(episodes),
        "total_frames": n_frames,
        "total_tasks": len(tasks),
        "chunks_size": chunks_size,
        "data_files_size_in_mb": data_files_size_in_mb,
        "video_files_size_in_mb": VIDEO_FILES_SIZE_IN_MB,
        "fps": fps,
        "splits": {"train": f"0:{len(episodes)}"},
        "data_path": DATA_PATH,
        "video_path": None,
        "features": features,
    }
    stats = compute_stats({key: np.concatenate(parts) for key, parts in all_columns.items()})

    _write_parquet(_tasks_table(tasks), out / TASKS_PATH)
    _write_parquet(_episodes_table(ep_rows, ep_stats), out / EPISODES_PATH.format(chunk_index=0, file_index=0))
    _write_json(_stats_to_json(stats), out / STATS_PATH)
    _write_json(info, out / INFO_PATH)  # last: a directory with info.json is complete


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


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

