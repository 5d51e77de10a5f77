"""Per-feature statistics in lerobot's meta/stats.json schema.

lerobot 0.6 reads min/max/mean/std/count and, for its QUANTILES / QUANTILE10 normalisation modes
(pi0.5), q01/q99 and q10/q90; a dataset without them fails there with "QUANTILES normalization mode
requires q01 and q99 stats". We therefore always write q01, q10, q50, q90, q99. Ours are exact
(`np.quantile`, linear interpolation over all frames); lerobot's own writer approximates them with
5000-bin histograms per episode and averages episode quantiles weighted by length, so the two agree
only approximately. std is the population std.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
QUANTILE_KEYS = tuple(f"q{int(round(q * 100)):02d}" for q in QUANTILES)  # q01 q10 q50 q90 q99
STAT_KEYS = ("min", "max", "mean", "std", "count", *QUANTILE_KEYS)


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


def stats_to_json(stats: Mapping[str, Mapping[str, np.ndarray]]) -> dict:
    """The stats.json object: every statistic as a (nested) list; refuses non-finite values."""
    out: dict[str, dict[str, list]] = {}
    for key, st in stats.items():
        out[key] = {}
        for name, value in st.items():
            value = np.asarray(value)
            if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
                raise ValueError(f"non-finite statistic {key}/{name}: {value}")
            out[key][name] = value.tolist()
    return out
