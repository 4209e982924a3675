"""Wall time of the same CTC items with the local process pool and with the Dask backend, in one run.

    python -m icm.ctc_scripts.ctc.backend_bench [--config cfg/ctc/coco-val-dev.yaml] [--limit 16] [--rounds 1]
        [--codec vvc-feature --codec vvc-image] [--jobs 2] [--noop 200] [--bootstrap 100] [-o results/backend-bench]

Runs the points of the chosen codecs on the first ``limit`` images into fresh folders with ``--jobs N`` (local
processes) and with ``--backend dask`` (a local cluster of N workers, started by the run as ``icm-ctc`` starts
it), on the same cores, in rounds ordered local, dask, dask, local, ... so that a load that drifts during the
run weighs on both alike (the items are timed, the reports not); checks that all give the same tables (times
aside); and measures the engine's own costs: the cluster's start, the checks on its workers, and no-op tasks
submitted at once (scheduling and result round trip per task). Prints a Markdown table (docs/results.md).
"""
from __future__ import annotations

import argparse
import csv
import os
import shutil
import time
from pathlib import Path

from .config import load_ctc_config
from .report import build_report
from .runner import run_ctc

TIMES = {"encode_s", "decode_s", "task_s"}


def _table(path: Path) -> list[dict]:
    with open(path) as handle:
        return [{k: v for k, v in row.items() if k not in TIMES} for row in csv.DictReader(handle)]


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def _noop(value):
    return value


def engine_costs(config, tasks: int) -> dict:
    """Seconds to start a local cluster of ``config.jobs`` workers and to run the checks on its workers (whose
    results folder has ``run.json``), and milliseconds per no-op task of ``tasks`` submitted at once."""
    from distributed import wait

    from .distributed import check_workers, connect

    start = time.perf_counter()
    with connect(None, config.jobs) as client:
        client.wait_for_workers(config.jobs)
        started = time.perf_counter() - start
        start = time.perf_counter()
        check_workers(client, config, gpu=False)
        checked = time.perf_counter() - start
        client.submit(_noop, -1, pure=False).result()  # the function reaches the workers once
        start = time.perf_counter()
        futures = [client.submit(_noop, i, pure=False) for i in range(tasks)]
        wait(futures)
        assert client.gather(futures) == list(range(tasks))
        per_task = (time.perf_counter() - start) / tasks
    return {"start_s": started, "check_s": checked, "noop_task_ms": 1000 * per_task}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="cfg/ctc/coco-val-dev.yaml")
    parser.add_argument("--limit", type=int, default=16)
    parser.add_argument("--codec", action="append", default=None)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1, help="rounds in the order local, dask, dask, local, ...")
    parser.add_argument("--noop", type=int, default=200)
    parser.add_argument("--bootstrap", type=int, default=100, help="replicates of the reports compared")
    parser.add_argument("-o", "--output", default="results/backend-bench")
    args = parser.parse_args(argv)
    codecs = args.codec or ["vvc-feature", "vvc-image"]
    root = Path(args.output)
    order = [("local", "dask") if r % 2 == 0 else ("dask", "local") for r in range(args.rounds)]
    rows, tables = [], []
    for number, backend in enumerate(b for pair in order for b in pair):
        folder = root / f"{number}-{backend}"
        shutil.rmtree(folder, ignore_errors=True)
        config = load_ctc_config(args.config, output=str(folder), limit=args.limit, codecs=codecs, jobs=args.jobs)
        load_before = _load()
        summary = run_ctc(config, progress=False, report=False, backend=backend)  # the items alone are timed
        assert summary.computed == summary.items and not summary.failures
        load_after = _load()
        build_report(folder, bootstrap=args.bootstrap, make_plot=False)
        tables.append([_table(folder / name) for name in ("points.csv", "summary.csv")])
        rows.append((backend, summary.items, summary.seconds, load_before, load_after))
        print(f"{backend}: {summary.items} items in {summary.seconds:.1f} s (load {load_before} -> {load_after})",
              flush=True)
    same = all(t == tables[0] for t in tables)
    costs = engine_costs(config, args.noop)
    items = rows[0][1]
    total = {b: sum(r[2] for r in rows if r[0] == b) for b in ("local", "dask")}
    difference = (total["dask"] - total["local"]) / args.rounds
    print(f"\nconfig {args.config}, codecs {', '.join(codecs)}, first {args.limit} images, {args.jobs} workers, "
          f"{args.rounds} rounds; tables identical (times aside): {'yes' if same else 'NO'}\n")
    print("| run | backend | items | wall s | s per item | load average before -> after (1, 5, 15 min) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for number, (backend, count, seconds, before, after) in enumerate(rows):
        print(f"| {number + 1} | {backend} | {count} | {seconds:.1f} | {seconds / count:.2f} | {before} -> {after} |")
    print(f"\nengine - local, mean over rounds: {difference:+.1f} s per run, {difference / items:+.3f} s per item; "
          f"a local cluster of {args.jobs} workers starts in {costs['start_s']:.1f} s, the checks on its workers "
          f"take {costs['check_s']:.1f} s; {args.noop} no-op tasks: {costs['noop_task_ms']:.1f} ms per task")


if __name__ == "__main__":
    main()
