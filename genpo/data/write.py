"""Write episodes as a LeRobotDataset v3.0 directory without importing lerobot:
`write_dataset(root, episodes, fps=..., robot_type=..., task=...)`. Only pyarrow (parquet) and JSON
are used; scope: low-dimensional numeric features (no images, no videos). Layout and array
conventions in genpo.data.layout, statistics in genpo.data.stats. The directory is written through
genpo.io.atomic_directory: it appears complete or not at all.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from genpo.data.layout import (
    CHUNKS_SIZE,
    CODEBASE_VERSION,
    DATA_FILES_SIZE_IN_MB,
    DATA_PATH,
    EPISODES_PATH,
    INDEX_FEATURES,
    INFO_PATH,
    STATS_PATH,
    TASKS_PATH,
    VIDEO_FILES_SIZE_IN_MB,
)
from genpo.data.stats import STAT_KEYS, compute_stats, stats_to_json
from genpo.io import atomic_directory

RESERVED_KEYS = set(INDEX_FEATURES) | {"task"}  # written by write_dataset itself

PARQUET_COMPRESSION = "zstd"
PARQUET_COMPRESSION_LEVEL = 9


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

    The dataset is assembled in a temporary sibling directory and renamed into place at the end
    (genpo.io.atomic_directory), so a failure never leaves a half-written dataset (nor the temporary
    directory) behind.
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

    def write(tmp: Path) -> None:
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

    return atomic_directory(root, write)


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
    _write_json(stats_to_json(stats), out / STATS_PATH)
    _write_json(info, out / INFO_PATH)  # last: a directory with info.json is complete
