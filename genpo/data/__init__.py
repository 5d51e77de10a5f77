"""Dataset layer: LeRobotDataset v3.0 reading/writing (no lerobot import), statistics, builders.

    from genpo.data import read_dataset, write_dataset
    data = read_dataset("datasets/pusht")      # LeRobotData: info, stats, columns, episode_bounds

Builders for the shipped datasets: `python -m genpo.data.build {pusht,hopper,walker2d}`.
"""

from genpo.data.lerobot_format import (
    CODEBASE_VERSION,
    INDEX_FEATURES,
    LeRobotData,
    compute_stats,
    read_dataset,
    write_dataset,
)

__all__ = ["CODEBASE_VERSION", "INDEX_FEATURES", "LeRobotData", "compute_stats", "read_dataset", "write_dataset"]
