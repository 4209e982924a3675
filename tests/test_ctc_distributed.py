"""The Dask backend of the CTC (``icm-ctc run --backend dask``): the small CTC on a local cluster of two workers gives
the local backend's tables; a worker killed mid-item costs that item only; a corrupt picture is one failed item
and the others finish; a stopped driver resumes; a GPU run without GPU workers stops up front; ``--check``; the
one-line error without the extra; records written once.

One cluster (two worker processes) and one local-backend run serve the whole module; the small CTC is cut to
its first 2 images (15 items)."""
import csv
import json
import logging
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from icm.ctc_scripts.ctc.cli import main as cli
from icm.ctc_scripts.ctc.config import load_ctc_config
from icm.ctc_scripts.ctc.items import publish_record
from icm.ctc_scripts.ctc.runner import FAILURES_FILE, plan, run_ctc

REPO = Path(__file__).resolve().parent.parent
SMALL = REPO / "cfg" / "ctc" / "small.yaml"
LIMIT = 2
TIMES = {"encode_s", "decode_s", "task_s"}
NEEDS_EXTRA = "the optional 'distributed' package is not installed (pip install 'icm-codec[distributed]')"


def table(path: Path) -> list[dict]:
    with open(path) as handle:
        return [{k: v for k, v in row.items() if k not in TIMES} for row in csv.DictReader(handle)]


def records(folder: Path) -> dict:
    """Every record of a results folder without its times, by path relative to ``points/``."""
    found = {}
    for path in sorted((folder / "points").rglob("*.json")):
        record = json.loads(path.read_text())
        found[str(path.relative_to(folder / "points"))] = {k: v for k, v in record.items() if k not in TIMES}
    return found


def assert_same_results(folder: Path, reference: Path) -> None:
    assert table(folder / "points.csv") == table(reference / "points.csv")
    assert table(folder / "summary.csv") == table(reference / "summary.csv")
    assert records(folder) == records(reference)


def small(folder: Path, **options):
    return load_ctc_config(SMALL, output=str(folder), limit=LIMIT, **options)


@pytest.fixture(scope="module")
def local_run(shared, tmp_path_factory):
    """The small CTC (2 images) on the local backend, two processes. (Like the cluster's two workers, each has
    cores / 2 torch threads: the detections' scores can differ in their last digit with the thread count, and
    the records are compared whole; the tables do not depend on it.)"""
    folder = tmp_path_factory.mktemp("local") / "small"
    summary = run_ctc(small(folder, jobs=2), progress=False)
    assert summary.computed == summary.items == 5 * LIMIT + 5
    return folder


@pytest.fixture(scope="module")
def cluster(shared):
    """A Client of a local cluster of two worker processes (as ``--backend dask --jobs 2`` starts one)."""
    pytest.importorskip("distributed", reason=NEEDS_EXTRA)
    from icm.ctc_scripts.ctc.distributed import connect

    logging.getLogger("distributed").setLevel(logging.CRITICAL)  # a killed worker is expected here
    with connect(None, 2) as client:
        yield client


def address(client) -> str:
    return client.scheduler.address


def test_engine_gives_the_local_tables(local_run, cluster, tmp_path):
    folder = tmp_path / "dask"
    summary = run_ctc(small(folder), progress=False, backend="dask", address=address(cluster))
    assert summary.computed == summary.items == 5 * LIMIT + 5 and not summary.failures
    assert_same_results(folder, local_run)
    assert not list(folder.rglob(".*.tmp"))


def test_a_killed_worker_costs_its_item_only(local_run, cluster, tmp_path):
    folder = tmp_path / "killed"
    killed = {}

    def kill_a_busy_worker(spec, record):
        if killed or len(list(folder.rglob("*.json"))) < 4:
            return
        # A lambda travels by value to the workers (this test module is not importable there).
        executing = cluster.run(lambda dask_worker: (os.getpid(), [str(t.key) for t in dask_worker.state.executing]))
        for worker, (pid, keys) in executing.items():
            if keys:  # a worker in the middle of an item
                os.kill(pid, signal.SIGKILL)
                killed.update(worker=worker, pid=pid, keys=keys)
                return

    summary = run_ctc(small(folder), progress=False, on_item_done=kill_a_busy_worker, backend="dask",
                      address=address(cluster))
    assert killed, "no worker was busy to be killed"
    assert summary.computed == summary.items and not summary.failures
    # Every item's record once; what else is there is a bitstream, or a temporary file of the killed worker.
    expected = {Path(spec["record"]) for spec in plan(small(folder), _dataset(folder))}
    assert set(folder.joinpath("points").rglob("*.json")) == expected
    for path in folder.joinpath("points").rglob("*"):
        if path.is_file() and path not in expected:
            assert path.suffix == ".icm" or f".{killed['pid']}." in path.name, path
    assert_same_results(folder, local_run)
    cluster.wait_for_workers(2, timeout=60)  # the nanny has restarted the killed worker


def _dataset(folder: Path):
    from icm.ctc_scripts.ctc.dataset import load_dataset

    return load_dataset(small(folder).dataset)


def test_a_corrupt_picture_fails_its_item_and_the_others_finish(shared, cluster, tmp_path):
    """Through the CLI: the corrupt picture's item is reported (exit status 3, failures.json), the others have
    their records; once the picture is mended, the next run computes only that item."""
    images = tmp_path / "images"
    images.mkdir()
    source = shared / "data" / "coco-val-dev" / "images"
    names = sorted(p.name for p in source.iterdir())[:3]
    for name in names:
        shutil.copy(source / name, images / name)
    corrupt = images / names[2]
    corrupt.write_bytes((source / names[2]).read_bytes()[:2000])
    out = tmp_path / "out"
    args = ["run", str(SMALL), "-o", str(out), "--quiet", "--backend", "dask", "--address", address(cluster),
            "--codec", "vvc-image",
            "--set", f"dataset.images={images}", "--set", "dataset.annotations=null", "--set", "dataset.limit=0",
            "--set", "codecs.vvc-image.qps=[47]"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 3, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("icm-ctc: error: ")]
    assert len(errors) == 1 and "1 of 4 items failed" in errors[0] and names[2] in errors[0], result.output
    assert f"icm-ctc: failed: vvc-image/qp47, {names[2]}: cannot decode image" in result.output
    failures = json.loads((out / FAILURES_FILE).read_text())
    assert [(f["point"], f["image"], f["exit_code"]) for f in failures] == [("vvc-image/qp47", names[2], 3)]
    point = out / "points" / "vvc-image" / "qp47"
    assert sorted(p.name for p in point.glob("*.json")) == sorted(
        [Path(n).stem + ".json" for n in names[:2]] + ["complexity.json"])
    assert not (out / "points.csv").exists()

    shutil.copy(source / names[2], corrupt)
    config = load_ctc_config(SMALL, output=str(out), codecs=["vvc-image"],
                             overrides=[f"dataset.images={images}", "dataset.annotations=null", "dataset.limit=0",
                                        "codecs.vvc-image.qps=[47]"])
    summary = run_ctc(config, progress=False, report=False, backend="dask", address=address(cluster))
    assert (summary.computed, summary.cached, summary.failures) == (1, 3, [])
    assert not (out / FAILURES_FILE).exists()


def test_a_stopped_driver_resumes_without_redoing_finished_items(local_run, cluster, tmp_path):
    folder = tmp_path / "stopped"
    config = small(folder, codecs=["vvc-image"])
    done = []

    def stop_after_one(spec, record):
        done.append(Path(spec["record"]))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_ctc(config, progress=False, on_item_done=stop_after_one, backend="dask", address=address(cluster))
    first = done[0].stat().st_mtime_ns
    summary = run_ctc(config, progress=False, report=False, backend="dask", address=address(cluster))
    # Items that were running when the driver stopped may have finished on the workers since: they are cached.
    assert summary.cached >= 1 and summary.cached + summary.computed == summary.items == 2 * (LIMIT + 1)
    assert done[0].stat().st_mtime_ns == first
    reference = {k: v for k, v in records(local_run).items() if k.startswith("vvc-image/")}
    assert records(folder) == reference


def test_gpu_run_without_gpu_workers_stops_up_front(cluster, tmp_path):
    out = tmp_path / "gpu"
    result = CliRunner().invoke(cli, ["run", str(SMALL), "-o", str(out), "--quiet", "--device", "cuda",
                                      "--backend", "dask", "--address", address(cluster)])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 7, result.output
    assert len(lines) == 1 and lines[0].startswith("icm-ctc: error: device 'cuda': none of the "), lines
    assert "has the GPU resource" in lines[0] and "--resources GPU=1" in lines[0]
    assert not out.exists()


def test_check_prints_the_same_plan(cluster, tmp_path):
    local = CliRunner().invoke(cli, ["run", str(SMALL), "-o", str(tmp_path / "x"), "--check"])
    engine = CliRunner().invoke(cli, ["run", str(SMALL), "-o", str(tmp_path / "x"), "--check", "--backend", "dask",
                                      "--address", address(cluster)])
    assert local.exit_code == 0 and engine.exit_code == 0, engine.output
    local_lines, engine_lines = local.output.splitlines(), engine.output.splitlines()
    assert engine_lines[1:-1] == local_lines[1:] and "20 work items" in engine.output
    assert f"backend dask at {address(cluster)}" in engine_lines[0]
    assert engine_lines[-1] == f"  backend dask: 2 workers (0 with the GPU resource) at {address(cluster)}"
    started = CliRunner().invoke(cli, ["run", str(SMALL), "-o", str(tmp_path / "x"), "--check", "--backend", "dask",
                                       "--jobs", "3"])
    last = started.output.splitlines()[-1]
    assert last == "  backend dask: a local cluster of 3 worker processes, started by the run"
    assert not (tmp_path / "x").exists()


def test_split_items_give_the_same_record(local_run, cluster, tmp_path):
    """A GPU run's VVC-only items are two tasks (encode anywhere, the rest on a GPU worker): the same chain on the
    CPU gives the record of the one-task item."""
    from icm.ctc_scripts.ctc.distributed import _submit
    from icm.ctc_scripts.ctc.placement import Placement

    class SplitOnCpu(Placement):
        def split(self, spec):
            return True

    config = small(tmp_path / "split")
    spec = next(s for s in plan(config, _dataset(tmp_path / "split")) if s["point"] == "vvc-image/qp37"
                and s["kind"] == "image")
    outcome = _submit(cluster, spec, SplitOnCpu(config), "split-test").result()
    record = {k: v for k, v in outcome["result"].items() if k not in TIMES}
    assert record == records(local_run)[f"vvc-image/qp37/{Path(spec['file']).stem}.json"]


def test_which_items_ask_for_a_gpu(shared):
    from icm.ctc_scripts.ctc.placement import Placement, encoder_runs_networks

    config = load_ctc_config(SMALL, device="cuda")
    assert not encoder_runs_networks(config, "vvc-image")  # measured: VVC only
    assert encoder_runs_networks(config, "vvc-feature")  # NN part 1
    placement = Placement(config)
    assert placement.resources() == {"GPU": 1}
    items = plan(config, _dataset_of(config))
    split = {spec["point"] for spec in items if placement.split(spec)}
    assert split == {"vvc-image/qp37", "vvc-image/qp47"}  # complexity items and the rest: one task on a GPU
    assert Placement(load_ctc_config(SMALL)).resources() is None


def _dataset_of(config):
    from icm.ctc_scripts.ctc.dataset import load_dataset

    return load_dataset(config.dataset)


def test_without_the_extra_one_line(shared, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    result = CliRunner().invoke(cli, ["run", str(SMALL), "-o", str(tmp_path / "x"), "--backend", "dask"])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 7 and len(lines) == 1, result.output
    assert "pip install 'icm-codec[distributed]'" in lines[0]
    result = CliRunner().invoke(cli, ["run", str(SMALL), "-o", str(tmp_path / "x"), "--address", "tcp://h:8786"])
    assert result.exit_code == 2 and "--backend dask" in result.output
    assert not (tmp_path / "x").exists()


def test_a_record_is_written_once(tmp_path):
    path = tmp_path / "p" / "a.json"
    first = publish_record(path, {"key": "k", "encode_s": 1.0})
    second = publish_record(path, {"key": "k", "encode_s": 2.0})  # a late repeat of the item: the first stands
    assert first == second == json.loads(path.read_text()) == {"key": "k", "encode_s": 1.0}
    assert publish_record(path, {"key": "new", "encode_s": 3.0})["key"] == "new"  # a stale record is replaced
    assert json.loads(path.read_text())["key"] == "new"
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.json"]
