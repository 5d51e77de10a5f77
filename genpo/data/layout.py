"""The LeRobotDataset **v3.0** on-disk layout: directory structure, file paths, the index features
every dataset carries, and how feature arrays are stored. Shared by genpo.data.write and
genpo.data.read (no lerobot import). The layout matches what lerobot 0.6 writes itself (checked field
by field against `LeRobotDataset.create(...).save_episode()` output and loaded back with
`LeRobotDataset` in tests/genpo/test_datasets.py)::

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
"""

from __future__ import annotations

from typing import Any

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

# Index columns lerobot adds to every dataset, in lerobot's order (DEFAULT_FEATURES).
INDEX_FEATURES: dict[str, dict[str, Any]] = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}
