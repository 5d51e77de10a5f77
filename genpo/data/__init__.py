"""Dataset layer: LeRobotDataset v3.0 reading/writing (no lerobot import) and statistics.

    from genpo.data import read_dataset, write_dataset
    data = read_dataset("datasets/pusht")      # LeRobotData: info, stats, columns, episode_bounds

Modules: layout (the v3.0 directory layout, paths and index features), stats (stats.json
statistics), write (write_dataset), read (read_dataset, LeRobotData). Builders for the shipped
datasets: `python tools/build_datasets.py {pusht,pusht_split,hopper,walker2d}`.
"""

from genpo.data.layout import CODEBASE_VERSION, INDEX_FEATURES
from genpo.data.read import LeRobotData, read_dataset
from genpo.data.stats import compute_stats
from genpo.data.write import write_dataset

__all__ = ["CODEBASE_VERSION", "INDEX_FEATURES", "LeRobotData", "compute_stats", "read_dataset", "write_dataset"]
