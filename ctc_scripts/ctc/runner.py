"""Runs the grid of a CTC: every work item (``items.py``: an image of a point through the real encoder, decoder
and task network, and its record) that has no record yet, then the report.

A record that exists with the current key is a finished item: a run that is interrupted and started again
redoes nothing that was finished (a stale record, of another key, is removed before its item runs again).
Backends: ``local`` runs the items here (``jobs`` 1) or in ``jobs`` spawned processes (each loads its own task
network); ``dask`` runs them on the workers of a Dask cluster (``distributed.py``). An item that fails with an
IcmError (bad data) is listed in ``failures.json`` and the others go on; the report waits for every record.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path

from ...common.errors import ConfigError, IcmError
from ...common.fileio import write_json_atomically
from .backends import BACKENDS
from .config import CtcConfig, check_resources
from .dataset import Dataset
from .items import run_item
from .progress import Progress
from .records import COMPLEXITY_FILE, RUN_FILE, point_dir, point_name, read_record


FAILURES_FILE = "failures.json"


@dataclass
class RunSummary:
    items: int
    cached: int
    computed: int
    seconds: float
    output: Path
    failures: list[dict] = field(default_factory=list)  # {"point", "image", "message", "exit_code"} per failed item


def _init_worker(threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles Ctrl-C and stops the pool
    import torch
    torch.set_num_threads(threads)
    parent = os.getppid()

    def watch_parent():  # a worker whose run was killed outright (SIGKILL) does not live on
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch_parent, daemon=True).start()


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


# -- the grid ------------------------------------------------------------------------------------------


def plan(config: CtcConfig, dataset: Dataset) -> list[dict]:
    """Every work item of the CTC, point by point (images first, then the point's complexity item)."""
    root = config.output_dir()
    items = []
    streams_of = stream_sources(config)
    # the points that copy another point's streams go last, so that those streams are usually there by then
    points = sorted(config.points(), key=lambda point: (point[0].name, point[1]) in streams_of)
    for codec, qp in points:
        key = config.point_key(codec, qp)
        encoder = config.encoder_config(codec, qp) if codec.coded else None
        decoder = config.decoder_config(codec) if codec.coded else None
        common = dict(codec=codec.name, tool=codec.tool, value=qp, key=key, point=point_name(codec, qp),
                      encoder=encoder, decoder=decoder, task_network=config.task_network,
                      task_input_size=config.task_input_size, device=config.device)
        folder = point_dir(root, codec, qp)
        for index, file_name in enumerate(dataset.files):
            stem = Path(file_name).stem
            item = dict(common, kind="image", file=file_name, image_id=dataset.image_ids[index],
                        image_path=str(dataset.path(index)), record=str(folder / f"{stem}.json"),
                        bitstream=str(folder / f"{stem}.icm"))
            source = streams_of.get((codec.name, qp))
            if source is not None:
                source_codec, source_key, source_folder = source
                item["stream_source"] = dict(codec=source_codec.name, key=source_key,
                                             record=str(source_folder / f"{stem}.json"),
                                             bitstream=str(source_folder / f"{stem}.icm"))
            items.append(item)
        items.append(dict(common, kind="complexity", file=dataset.files[0], image_id=dataset.image_ids[0],
                          image_path=str(dataset.path(0)), record=str(folder / COMPLEXITY_FILE)))
    return items


def stream_sources(config: CtcConfig) -> dict:
    """(codec name, value) -> (codec, point key, point folder) of another point whose streams are the same: a
    codec that only decodes differently (``decode``: ``max_groups``, ``task_network``) than a codec without
    decoder settings reuses that codec's bitstream files (and their encode times) instead of encoding again."""
    root = config.output_dir()
    plain = {}
    for codec, qp in config.points():
        if codec.coded and not codec.decode:  # without decoder settings, its key is that of its streams
            key = config.point_key(codec, qp)
            plain.setdefault(key, (codec, key, point_dir(root, codec, qp)))
    return {(codec.name, qp): plain[key] for codec, qp in config.points()
            if codec.coded and codec.decode and (key := config.point_key(codec, qp, with_decode=False)) in plain}


def pending_items(items: list, spec_of=lambda item: item) -> list:
    """The items (``spec_of(item)`` their spec) that have no record of their key yet. A stale record there
    (other key, unreadable) is removed first, so the new one is written once."""
    pending = [item for item in items if read_record(Path(spec_of(item)["record"]), spec_of(item)["key"]) is None]
    for item in pending:
        path = Path(spec_of(item)["record"])
        if path.exists():
            try:
                path.unlink()
            except OSError:
                pass
    return pending


def write_run_file(config: CtcConfig, dataset: Dataset) -> None:
    root = config.output_dir()
    keys = {point_name(codec, qp): config.point_key(codec, qp) for codec, qp in config.points()}
    write_json_atomically(root / RUN_FILE, {"config": config.to_dict(), "dataset": dataset.to_dict(), "keys": keys})


def check_run_resources(config: CtcConfig, backend: str = "local", address: str | None = None) -> Dataset:
    """check_resources for a run on ``backend``; with a cluster's ``address`` the device is not checked here
    but on the cluster's workers (a head node without a GPU can drive GPU workers), and the cluster is
    reached and checked for workers (with the GPU resource for a GPU run) before any work."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend '{backend}' (use {' or '.join(BACKENDS)})")
    if address and backend != "dask":
        raise ConfigError("--address names a Dask scheduler: use it with --backend dask")
    if backend == "dask":
        from .distributed import cluster_summary, require_distributed
        require_distributed()
        if address:
            dataset = check_resources(replace(config, device="cpu"))
            cluster_summary(config, address)  # reachable, with workers, GPU workers for a GPU run
            return dataset
    return check_resources(config)


def run_ctc(config: CtcConfig, dataset: Dataset | None = None, progress: bool = True, on_item_done=None,
            report: bool = True, backend: str = "local", address: str | None = None) -> RunSummary:
    """Run (or finish) the CTC and build its report. ``on_item_done(spec, record)`` is called after each
    computed item (tests use it to interrupt a run). ``backend``: ``local`` (``config.jobs`` processes here) or
    ``dask`` (the cluster at ``address``, else a local cluster of ``config.jobs`` workers). Items that fail
    with an IcmError are listed in ``RunSummary.failures`` (and ``failures.json``); then no report is built."""
    started = time.monotonic()
    if dataset is None:
        dataset = check_run_resources(config, backend, address)
    root = config.output_dir()
    root.mkdir(parents=True, exist_ok=True)
    write_run_file(config, dataset)
    items = plan(config, dataset)
    pending = pending_items(items)
    bar = Progress(len(items), done=len(items) - len(pending), enabled=progress)
    computed, failures = 0, []

    def on_outcome(spec: dict, outcome: dict) -> None:
        nonlocal computed
        if "failure" in outcome:
            failures.append({"point": spec["point"], "image": spec["file"], "message": outcome["failure"],
                             "exit_code": outcome["exit_code"]})
            bar.update(f"{spec['point']} failed")
            return
        computed += 1
        bar.update(spec["point"])
        if on_item_done is not None:
            on_item_done(spec, outcome["result"])

    # SIGTERM (kill) stops the run like Ctrl-C: finished items stay, the workers are shut down.
    previous = signal.signal(signal.SIGTERM, _interrupt) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        if backend == "dask":
            from .distributed import run_items
            run_items(config, pending, on_outcome, address=address)
        else:
            _run_local(config, pending, on_outcome)
    finally:
        bar.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    _write_failures(root, failures)
    if report and not failures:
        from .report import build_report
        build_report(root)
    return RunSummary(len(items), len(items) - len(pending), computed, time.monotonic() - started, root, failures)


def _run_local(config: CtcConfig, pending: list[dict], on_outcome) -> None:
    """The items in this process (one job) or in ``config.jobs`` spawned worker processes."""
    if config.jobs <= 1 or len(pending) <= 1:
        for spec in pending:
            on_outcome(spec, run_item(spec))
        return
    threads = max(1, (os.cpu_count() or 1) // config.jobs)
    executor = ProcessPoolExecutor(max_workers=config.jobs, mp_context=get_context("spawn"),
                                   initializer=_init_worker, initargs=(threads,))
    try:
        queue = iter(pending)
        running = {}
        for spec in queue:  # keep 2 items per worker in flight, so a stop leaves little half-done
            running[executor.submit(run_item, spec)] = spec
            if len(running) >= 2 * config.jobs:
                break
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                spec = running.pop(future)
                on_outcome(spec, future.result())
                following = next(queue, None)
                if following is not None:
                    running[executor.submit(run_item, following)] = following
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _write_failures(root: Path, failures: list[dict]) -> None:
    """``failures.json``: the items of the last run that failed, with their messages (removed when none did)."""
    path = root / FAILURES_FILE
    if failures:
        write_json_atomically(path, failures)
    else:
        path.unlink(missing_ok=True)


def failures_error(summary: RunSummary) -> IcmError:
    """One line about the failed items of a run, with the exit status of the first one's error."""
    first = summary.failures[0]
    error = IcmError(f"{len(summary.failures)} of {summary.items} items failed (all listed in "
                     f"{summary.output / FAILURES_FILE}); the others are finished, no report yet; first: "
                     f"{first['message']}")
    error.exit_code = first["exit_code"]
    return error
