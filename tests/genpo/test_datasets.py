"""Dataset layer: LeRobotDataset v3.0 writer/reader, lerobot compatibility, shipped datasets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genpo.data import compute_stats, read_dataset, write_dataset
from genpo.data import write as data_write

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "datasets"


def make_episodes(lengths=(5, 1, 9, 4), obs_dim=3, act_dim=2, seed=0):
    rng = np.random.default_rng(seed)
    eps = []
    for t in lengths:
        done = np.zeros(t, dtype=bool)
        done[-1] = True
        eps.append(
            {
                "observation.state": rng.normal(size=(t, obs_dim)),  # float64: stored as float32
                "action": rng.uniform(-1, 1, size=(t, act_dim)).astype(np.float32),
                "next.reward": rng.normal(size=t).astype(np.float32),  # (T,)
                "next.done": done,
            }
        )
    return eps


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name)


# ------------------------------------------------------------------------------------------
# Round trip: project writer -> project reader
# ------------------------------------------------------------------------------------------


def test_round_trip_exact(tmp_path):
    eps = make_episodes()
    tasks = ["push", "push", "lift", "push"]
    root = write_dataset(
        tmp_path / "ds", eps, fps=20, robot_type="toy", task=tasks,
        features_names={"observation.state": ["x", "y", "z"]},
    )
    data = read_dataset(root)
    lengths = [len(e["action"]) for e in eps]
    ends = np.cumsum(lengths)
    starts = ends - lengths

    assert data.num_episodes == 4 and data.num_frames == sum(lengths)
    assert data.episodes() == list(zip(starts.tolist(), ends.tolist(), strict=True))
    np.testing.assert_array_equal(data.episode_bounds, np.stack([starts, ends], 1))
    assert data.tasks == ["push", "lift"]

    info = data.info
    assert info["codebase_version"] == "v3.0" and info["fps"] == 20 and info["robot_type"] == "toy"
    assert info["total_episodes"] == 4 and info["total_frames"] == sum(lengths) and info["total_tasks"] == 2
    assert info["splits"] == {"train": "0:4"}
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["video_path"] is None and info["chunks_size"] == 1000
    feats = info["features"]
    assert list(feats) == [
        "observation.state", "action", "next.reward", "next.done",
        "timestamp", "frame_index", "episode_index", "index", "task_index",
    ]
    assert feats["observation.state"] == {"dtype": "float32", "shape": [3], "names": ["x", "y", "z"]}
    assert feats["next.done"] == {"dtype": "bool", "shape": [1], "names": None}

    # Every column, exactly.
    cat = {k: np.concatenate([e[k] for e in eps]) for k in eps[0]}
    c = data.columns
    assert c["observation.state"].dtype == np.float32 and c["observation.state"].shape == (sum(lengths), 3)
    np.testing.assert_array_equal(c["observation.state"], cat["observation.state"].astype(np.float32))
    np.testing.assert_array_equal(c["action"], cat["action"])
    assert c["next.reward"].shape == (sum(lengths), 1)
    np.testing.assert_array_equal(c["next.reward"][:, 0], cat["next.reward"])
    assert c["next.done"].dtype == np.bool_
    np.testing.assert_array_equal(c["next.done"], cat["next.done"])
    frame_index = np.concatenate([np.arange(n) for n in lengths])
    np.testing.assert_array_equal(c["frame_index"], frame_index)
    np.testing.assert_array_equal(c["timestamp"], (frame_index / 20).astype(np.float32))
    np.testing.assert_array_equal(c["index"], np.arange(sum(lengths)))
    np.testing.assert_array_equal(c["episode_index"], np.repeat(np.arange(4), lengths))
    np.testing.assert_array_equal(data.episode_index, np.repeat(np.arange(4), lengths))
    np.testing.assert_array_equal(c["task_index"], np.repeat([0, 0, 1, 0], lengths))
    ep2 = data.episode(2)
    np.testing.assert_array_equal(ep2["action"], eps[2]["action"])
    np.testing.assert_allclose(data.episode_returns(), [e["next.reward"].astype(np.float64).sum() for e in eps])

    # Stats: the written ones equal compute_stats of the columns (JSON keeps float64 exactly).
    expected = compute_stats(c)
    assert set(data.stats) == set(expected)
    for key, st_ in expected.items():
        assert set(data.stats[key]) == {"min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99"}
        for name, value in st_.items():
            np.testing.assert_array_equal(data.stats[key][name], value, err_msg=f"{key}/{name}")
    s = data.stats["observation.state"]
    x = cat["observation.state"].astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(s["mean"], x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(s["std"], x.std(0), rtol=1e-12)
    np.testing.assert_allclose(s["q50"], np.median(x, 0), rtol=1e-12)
    assert s["count"].tolist() == [sum(lengths)] and s["mean"].shape == (3,)
    assert data.stats["next.reward"]["mean"].shape == (1,)
    assert data.stats["next.done"]["max"].tolist() == [True]

    # Episode metadata rows as lerobot writes them.
    ep_meta = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pydict()
    assert ep_meta["length"] == lengths
    assert ep_meta["dataset_from_index"] == starts.tolist() and ep_meta["dataset_to_index"] == ends.tolist()
    assert ep_meta["tasks"] == [[t] for t in tasks]
    assert ep_meta["stats/action/count"] == [[n] for n in lengths]
    np.testing.assert_allclose(ep_meta["stats/action/mean"][2], eps[2]["action"].astype(np.float64).mean(0))
    assert ep_meta["meta/episodes/chunk_index"] == [0] * 4


def test_multiple_data_files_round_trip(tmp_path):
    eps = make_episodes(lengths=(50, 60, 70, 80), obs_dim=4)
    root = write_dataset(tmp_path / "ds", eps, fps=10, robot_type=None, task="t", data_files_size_in_mb=0.002)
    files = sorted((root / "data").glob("chunk-*/file-*.parquet"))
    assert len(files) > 1
    data = read_dataset(root)
    np.testing.assert_array_equal(data.columns["action"], np.concatenate([e["action"] for e in eps]))
    ep_meta = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pydict()
    assert ep_meta["data/file_index"] == sorted(ep_meta["data/file_index"]) and ep_meta["data/file_index"][-1] > 0


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lengths=st.lists(st.integers(1, 12), min_size=1, max_size=5),
    obs_dim=st.integers(1, 6),
    seed=st.integers(0, 10_000),
)
def test_round_trip_property(tmp_path, lengths, obs_dim, seed):
    eps = make_episodes(lengths=lengths, obs_dim=obs_dim, seed=seed)
    root = write_dataset(tmp_path / f"ds{seed}", eps, fps=5, robot_type=None, task="t", overwrite=True)
    data = read_dataset(root)
    assert data.episode_lengths().tolist() == list(lengths)
    obs = data.columns["observation.state"]
    assert obs.shape == (sum(lengths), obs_dim)  # 2-D also when obs_dim == 1
    np.testing.assert_array_equal(obs, np.concatenate([e["observation.state"] for e in eps]).astype(np.float32))


# ------------------------------------------------------------------------------------------
# Compatibility with lerobot itself (both directions)
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("file_mb", [100, 0.002])
def test_lerobot_reads_our_dataset(tmp_path, file_mb):
    pytest.importorskip("lerobot")
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    eps = make_episodes(lengths=(30, 12, 41))
    tasks = ["a", "b", "a"]
    root = write_dataset(tmp_path / "ds", eps, fps=10, robot_type="toy", task=tasks, data_files_size_in_mb=file_mb)
    cat = {k: np.concatenate([e[k] for e in eps]) for k in eps[0]}
    n = len(cat["action"])

    ds = LeRobotDataset(repo_id="local/x", root=root)
    assert len(ds) == n and ds.num_episodes == 3 and ds.fps == 10
    for i in [0, 1, 29, 30, 41, 42, n - 1]:
        item = ds[i]
        np.testing.assert_array_equal(item["observation.state"].numpy(), cat["observation.state"][i].astype(np.float32))
        np.testing.assert_array_equal(item["action"].numpy(), cat["action"][i])
        assert item["next.reward"].item() == cat["next.reward"][i]
        assert bool(item["next.done"]) == bool(cat["next.done"][i])
        assert item["index"].item() == i
        ep = int(np.searchsorted([30, 42, 83], i, side="right"))
        assert item["episode_index"].item() == ep
        assert item["task"] == tasks[ep]
    assert set(ds.meta.stats["action"]) >= {"min", "max", "mean", "std", "count", "q01", "q99"}
    np.testing.assert_allclose(ds.meta.stats["action"]["mean"], cat["action"].astype(np.float64).mean(0))

    # Action chunks across episode boundaries use meta/episodes bounds: padding must be right.
    ds2 = LeRobotDataset(repo_id="local/x", root=root, delta_timestamps={"action": [0.0, 0.1, 0.2]})
    item = ds2[28]  # frames 28, 29 in episode 0; the third query is past its end
    assert item["action_is_pad"].tolist() == [False, False, True]
    np.testing.assert_array_equal(item["action"].numpy(), cat["action"][[28, 29, 29]])


def test_our_reader_reads_lerobot_written_dataset(tmp_path):
    pytest.importorskip("lerobot")
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    features = {
        "observation.state": {"dtype": "float32", "shape": (3,), "names": None},
        "action": {"dtype": "float32", "shape": (2,), "names": None},
        "next.reward": {"dtype": "float32", "shape": (1,), "names": None},
        "next.done": {"dtype": "bool", "shape": (1,), "names": None},
    }
    root = tmp_path / "lr"
    ds = LeRobotDataset.create("local/lr", fps=10, features=features, root=root, use_videos=False)
    eps = make_episodes(lengths=(4, 6))
    for ep in eps:
        for t in range(len(ep["action"])):
            ds.add_frame(
                {
                    "observation.state": ep["observation.state"][t].astype(np.float32),
                    "action": ep["action"][t],
                    "next.reward": ep["next.reward"][t : t + 1],
                    "next.done": ep["next.done"][t : t + 1],
                    "task": "lerobot task",
                }
            )
        ds.save_episode()
    ds.finalize()

    data = read_dataset(root)
    assert data.episodes() == [(0, 4), (4, 10)] and data.tasks == ["lerobot task"]
    np.testing.assert_array_equal(data.columns["action"], np.concatenate([e["action"] for e in eps]))
    np.testing.assert_array_equal(data.columns["next.done"], np.concatenate([e["next.done"] for e in eps]))
    np.testing.assert_array_equal(data.columns["next.reward"][:, 0], np.concatenate([e["next.reward"] for e in eps]))
    # Same schema and column types as ours.
    ours = write_dataset(tmp_path / "ours", eps, fps=10, robot_type=None, task="lerobot task")
    theirs_schema = pq.read_schema(next((root / "data").rglob("*.parquet")))
    ours_schema = pq.read_schema(next((ours / "data").rglob("*.parquet")))
    assert [(f.name, str(f.type)) for f in ours_schema] == [(f.name, str(f.type)) for f in theirs_schema]
    theirs_ep = pq.read_schema(next((root / "meta/episodes").rglob("*.parquet")))
    ours_ep = pq.read_schema(next((ours / "meta/episodes").rglob("*.parquet")))
    assert [(f.name, str(f.type)) for f in ours_ep] == [(f.name, str(f.type)) for f in theirs_ep]
    their_info = json.loads((root / "meta/info.json").read_text())
    our_info = json.loads((ours / "meta/info.json").read_text())
    assert set(our_info) == set(their_info) and our_info["features"] == their_info["features"]
    assert set(json.loads((ours / "meta/stats.json").read_text())["action"]) == set(ds.meta.stats["action"])


# ------------------------------------------------------------------------------------------
# Shipped datasets
# ------------------------------------------------------------------------------------------


def test_shipped_pusht():
    data = read_dataset(SHIPPED / "pusht")
    assert data.num_episodes == 206 and data.num_frames == 25_650 and data.fps == 10
    act = data.columns["action"]
    assert act.shape == (25_650, 2) and act.min() >= 0.0 and act.max() <= 512.0
    assert data.columns["observation.state"].shape == (25_650, 5)
    assert data.columns["observation.environment_state"].shape == (25_650, 18)
    done = data.columns["next.done"]
    assert done.sum() == 206 and np.all(done[data.episode_bounds[:, 1] - 1])
    assert {"q01", "q99"} <= set(data.stats["action"])
    assert (SHIPPED / "pusht" / "README.md").is_file()


@pytest.mark.parametrize("env", ["hopper", "walker2d"])
def test_shipped_mujoco(env):
    expert = read_dataset(SHIPPED / f"{env}_expert")
    medium = read_dataset(SHIPPED / f"{env}_noisy_expert")  # the builder's expert + noise set
    for d in (expert, medium):
        assert np.abs(d.columns["action"]).max() <= 1.0
        done = d.columns["next.done"]
        ends = d.episode_bounds[:, 1] - 1
        assert done.sum() == d.num_episodes and np.all(done[ends])
        assert d.episode_lengths().max() <= 1000
        assert sum(f.stat().st_size for f in d.root.rglob("*") if f.is_file()) < 5 * 2**20
        assert (d.root / "README.md").is_file()
    assert 20_000 <= expert.num_frames <= 50_000 and 45_000 <= medium.num_frames <= 55_000
    ratio = medium.episode_returns().mean() / expert.episode_returns().mean()
    assert 0.4 <= ratio <= 0.6


def test_datasets_dir_is_not_a_package():
    assert not (SHIPPED / "__init__.py").exists()


# ------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------


@pytest.fixture
def small(tmp_path):
    return write_dataset(tmp_path / "ds", make_episodes(), fps=10, robot_type=None, task="t")


def test_missing_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_dataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="meta/info.json"):
        read_dataset(tmp_path / "empty")


def test_wrong_version(small):
    info = json.loads((small / "meta/info.json").read_text())
    info["codebase_version"] = "v2.1"
    (small / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="v2.1"):
        read_dataset(small)


@pytest.mark.parametrize("victim", ["meta/stats.json", "meta/tasks.parquet", "data", "meta/episodes"])
def test_missing_files(small, victim):
    import shutil

    p = small / victim
    shutil.rmtree(p) if p.is_dir() else p.unlink()
    with pytest.raises(FileNotFoundError):
        read_dataset(small)


def test_corrupted_files(small):
    data_file = small / "data/chunk-000/file-000.parquet"
    data_file.write_bytes(data_file.read_bytes()[:100])
    with pytest.raises(ValueError, match="file-000.parquet"):
        read_dataset(small)


def test_inconsistent_metadata(small):
    (small / "meta/info.json").write_text("{not json")
    with pytest.raises(ValueError, match="JSON"):
        read_dataset(small)


def test_inconsistent_totals(tmp_path):
    root = write_dataset(tmp_path / "ds", make_episodes(), fps=10, robot_type=None, task="t")
    info = json.loads((root / "meta/info.json").read_text())
    info["total_frames"] += 1
    (root / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="total_frames"):
        read_dataset(root)


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda e: e[1].__setitem__("index", np.arange(1)), "written by write_dataset"),
        (lambda e: e[2].__setitem__("action", np.zeros((3, 2), np.float32)), "frames"),
        (lambda e: e[2].__setitem__("action", np.zeros((9, 5), np.float32)), "differs from episode 0"),
        (lambda e: e[3].pop("next.reward"), "missing features"),
        (lambda e: e[0].__setitem__("bad/key", np.zeros(5)), "must not contain"),
        (lambda e: e[0].__setitem__("s", np.array(["a"] * 5)), "unsupported dtype"),
    ],
)
def test_invalid_input(tmp_path, mutate, match):
    eps = make_episodes()
    mutate(eps)
    with pytest.raises(ValueError, match=match):
        write_dataset(tmp_path / "ds", eps, fps=10, robot_type=None, task="t")
    assert not (tmp_path / "ds").exists() and leftovers(tmp_path) == []


# ------------------------------------------------------------------------------------------
# Atomic writes
# ------------------------------------------------------------------------------------------


def test_atomic_write_bad_array_mid_write(tmp_path):
    eps = make_episodes()
    eps[3]["observation.state"][2, 1] = np.nan  # episodes 0-2 are already converted when this is hit
    with pytest.raises(ValueError, match="NaN"):
        write_dataset(tmp_path / "ds", eps, fps=10, robot_type=None, task="t")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_failure_after_parquet(tmp_path, monkeypatch):
    def boom(obj, path):
        raise RuntimeError("disk full")

    monkeypatch.setattr(data_write, "_write_json", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_dataset(tmp_path / "ds", make_episodes(), fps=10, robot_type=None, task="t")
    assert list(tmp_path.iterdir()) == []


def test_overwrite_semantics(tmp_path, monkeypatch):
    root = write_dataset(tmp_path / "ds", make_episodes(seed=1), fps=10, robot_type=None, task="t")
    before = read_dataset(root).columns["action"].copy()
    with pytest.raises(FileExistsError):
        write_dataset(root, make_episodes(seed=2), fps=10, robot_type=None, task="t")
    # A failing overwrite leaves the old dataset intact.
    monkeypatch.setattr(data_write, "_write_json", lambda obj, path: (_ for _ in ()).throw(RuntimeError("x")))
    with pytest.raises(RuntimeError):
        write_dataset(root, make_episodes(seed=2), fps=10, robot_type=None, task="t", overwrite=True)
    monkeypatch.undo()
    np.testing.assert_array_equal(read_dataset(root).columns["action"], before)
    assert leftovers(tmp_path) == []
    write_dataset(root, make_episodes(seed=2), fps=10, robot_type=None, task="t", overwrite=True)
    after = read_dataset(root).columns["action"]
    assert not np.array_equal(after, before) and leftovers(tmp_path) == []
