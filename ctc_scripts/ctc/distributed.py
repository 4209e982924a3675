"""The Dask backend of ``icm-ctc run`` (``--backend dask [--address ADDR]``): the same work items as the local
process pool, run by the workers of a Dask cluster.

- **Cluster.** ``--address`` names a running scheduler (``tcp://host:8786``) or its scheduler file (a
  ``.json`` path, as ``dask scheduler --scheduler-file`` writes); without it a local cluster of ``jobs``
  worker processes (one thread each) is started here and stopped at the end.
- **Checks before any work.** Each worker runs ``check_resources`` of the configuration (data set, task
  network, model weights, inner codec; CUDA on the workers with the ``GPU`` resource) and checks that it
  sees the results folder at the same path (``run.json`` with the driver's content): one line per problem.
  With ``device: cuda`` a cluster without a worker with the ``GPU`` resource stops the run up front.
- **Items.** One task per item (two for VVC-only items on a GPU run, see ``placement.py``), with
  ``retries=1`` for an unexpected exception (a transient one: a network file system, a GPU out of memory).
  An IcmError (bad data) is not retried: the item comes back as failed (``items.guarded_call``). A worker
  that dies mid-item costs that item only: the scheduler runs it again on another worker; an item that
  kills ``distributed.scheduler.allowed-failures`` + 1 workers (3 + 1 by default) is recorded as failed.
- **Records.** Written by the workers into the shared results folder, atomically and once
  (``items.publish_record``); the driver only counts them, shows the progress bar and lists the failures.
  Stopping the driver (Ctrl-C, ``kill``) cancels the items not started; a restarted run computes what has no
  record, as the local backend does.
"""
from __future__ import annotations

import hashlib
import logging
import os
import signal
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

from ...common.errors import IcmError, ResourceError
from .config import CtcConfig
from .placement import GPU, Placement
from .records import RUN_FILE
from .items import encode_stage, finish_item, guarded_call, run_item

MISSING = ("--backend dask needs the optional package 'distributed': pip install 'icm-codec[distributed]' "
           "(or pip install -r requirements.txt)")
RETRIES = 1  # more attempts of an item after an unexpected exception (IcmErrors are not retried)
WORKER_WAIT_S = 60.0  # how long a cluster without workers is waited for
CONNECT_TIMEOUT_S = 30.0
WINDOW_PER_THREAD, WINDOW_MIN, WINDOW_REFRESH = 4, 16, 32  # items in flight per worker thread, at least; refresh
# The workers' statistical profiler samples every thread's stack every 10 ms: about 0.5 s of CPU in an item of 14 s
# (measured; docs/results.md). Off for the local cluster; DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False on others.
WORKER_CONFIG = {"distributed.worker.profile.enabled": False}
PATHS = ("image_path", "record", "bitstream")  # the paths in a work item
THREADS_ENV = "ICM_CTC_TORCH_THREADS"  # torch threads of a worker process (unset: torch's default, OMP_NUM_THREADS)


def require_distributed():
    """The ``distributed`` module, or a one-line ResourceError when the extra is not installed."""
    try:
        import distributed
    except ImportError:
        raise ResourceError(MISSING) from None
    return distributed


@contextmanager
def connect(address: str | None, jobs: int, gpu: bool = False):
    """A Client of the cluster at ``address`` (scheduler address or scheduler file), or of a local cluster of
    ``jobs`` worker processes started here (with the ``GPU`` resource each when ``gpu``; stopped on exit)."""
    distributed = require_distributed()
    import dask

    cluster = None
    if address:
        try:
            if address.endswith(".json") or os.path.isfile(address):
                client = distributed.Client(scheduler_file=address, timeout=CONNECT_TIMEOUT_S)
            else:
                client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ResourceError(f"cannot reach the Dask scheduler at {address}: {_first_line(exc)}") from None
    else:
        # The workers ignore Ctrl-C (this process stops them): spawned with SIGINT ignored, and dask_setup below
        # for a worker that the cluster restarts.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if _main_thread() else None
        try:
            # In this process's configuration, not a context: a nanny hands the current one to a worker that it
            # restarts.
            dask.config.set(WORKER_CONFIG)
            cluster = distributed.LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                               dashboard_address=None, silence_logs=logging.ERROR,
                                               scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # any port
                                               resources={GPU: 1} if gpu else None, preload=[__name__],
                                               env={THREADS_ENV: str(max(1, (os.cpu_count() or 1) // jobs))})
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def dask_setup(worker) -> None:
    """Preload hook of the local cluster's workers (in their main thread): Ctrl-C is for the driver only."""
    if _main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def describe(client) -> str:
    """``N workers (G with the GPU resource) at ADDRESS``."""
    workers = _workers(client)
    gpus = sum(1 for info in workers.values() if info.get("resources", {}).get(GPU, 0) > 0)
    return f"{len(workers)} workers ({gpus} with the {GPU} resource) at {client.scheduler.address}"


def cluster_summary(config: CtcConfig, address: str | None) -> str:
    """For ``--check``: the cluster a run would use (connected to and checked for the GPU resource when it
    is given by address; a local one is not started)."""
    require_distributed()
    if not address:
        return f"a local cluster of {config.jobs} worker processes, started by the run"
    with connect(address, config.jobs) as client:
        _check_gpu_workers(client, config, gpu=config.device.startswith("cuda"))
        return describe(client)


def run_items(config: CtcConfig, pending: list[dict], on_outcome, address: str | None = None) -> None:
    """Run ``pending`` on the cluster; ``on_outcome(spec, outcome)`` in this process as each one ends (outcomes
    as ``items.guarded_call``'s)."""
    from distributed import as_completed

    placement = Placement(config)
    gpu = placement.needs_gpu(pending)
    with connect(address, config.jobs, gpu=gpu) as client:
        check_workers(client, config, gpu=gpu)
        token = uuid.uuid4().hex[:8]
        queue = iter(enumerate(pending))
        futures, running, finished = {}, as_completed(), 0

        def refill():  # keep the window full, in plan order
            window = _window(client)
            while len(futures) < window:
                index, spec = next(queue, (None, None))
                if spec is None:
                    return
                spec = _absolute(spec)
                future = _submit(client, spec, placement, f"{token}-{index}")
                futures[future] = spec
                running.add(future)

        try:
            refill()
            for future in running:
                spec = futures.pop(future)
                on_outcome(spec, _outcome(future, spec))
                finished += 1
                if not futures or finished % WINDOW_REFRESH == 0 or len(futures) < WINDOW_MIN:
                    refill()
        finally:
            if futures:
                client.cancel(list(futures))


def _window(client) -> int:
    """Items in flight: a few per worker thread (workers that join later get work at the next refill), so the
    scheduler does not hold a whole CTC's tasks and a stopped driver leaves little to cancel."""
    return max(WINDOW_MIN, WINDOW_PER_THREAD * sum(client.nthreads().values()))


def _absolute(spec: dict) -> dict:
    """The item with absolute paths (not resolved through links): a worker's working folder is not the driver's."""
    absolute = dict(spec, **{k: os.path.abspath(spec[k]) for k in PATHS if spec.get(k)})
    source = spec.get("stream_source")
    if source:  # the point whose stream a decode-only codec copies (items.reuse_stream)
        absolute["stream_source"] = dict(source, record=os.path.abspath(source["record"]),
                                         bitstream=os.path.abspath(source["bitstream"]))
    return absolute


def _submit(client, spec: dict, placement: Placement, key: str):
    resources = placement.resources()
    if placement.split(spec):
        encoded = client.submit(encode_stage_task, spec, key=f"icm-encode-{key}", retries=RETRIES, pure=False)
        return client.submit(finish_stage, spec, encoded, key=f"icm-finish-{key}", resources=resources,
                             retries=RETRIES, pure=False)
    return client.submit(item_task, spec, key=f"icm-item-{key}", resources=resources, retries=RETRIES, pure=False)


def _outcome(future, spec: dict) -> dict:
    """The item's outcome; an item that killed its workers (``KilledWorker``) is a failed item."""
    from distributed.scheduler import KilledWorker

    try:
        return future.result()
    except KilledWorker as exc:
        return {"failure": f"{spec['point']}, {spec['file']}: the item's worker died each time it ran it "
                           f"({_first_line(exc)})", "exit_code": IcmError.exit_code}


# -- the tasks on the workers ------------------------------------------------------------------------------

_READY: list = []


def _worker_setup() -> None:
    """Once per worker process: the torch threads that the cluster gives it."""
    if not _READY:
        threads = os.environ.get(THREADS_ENV)
        if threads:
            import torch
            torch.set_num_threads(int(threads))
        _READY.append(True)


def item_task(spec: dict) -> dict:
    """A whole item on a worker: ``run_item``'s outcome."""
    _worker_setup()
    return run_item(spec)


def encode_stage_task(spec: dict) -> dict:
    """Step 1 of a split item (see ``placement.py``): ``{"result": what finish_item needs}`` or a failure."""
    _worker_setup()
    return guarded_call(encode_stage, spec)


def finish_stage(spec: dict, first: dict) -> dict:
    """Steps 2-4 of a split item, after ``encode_stage_task`` (whose failure passes through)."""
    if "failure" in first:
        return first
    _worker_setup()
    return guarded_call(finish_item, spec, first["result"])


# -- checks on the workers ---------------------------------------------------------------------------------


def check_workers(client, config: CtcConfig, gpu: bool) -> None:
    """ResourceError (one line) unless every worker can run the items (see the module doc), and, for a GPU
    run, at least one worker has the ``GPU`` resource."""
    workers, with_gpu = _check_gpu_workers(client, config, gpu)
    run_file = Path(os.path.abspath(config.output_dir())) / RUN_FILE
    probe = {"config": config, "run_file": str(run_file), "digest": _digest(run_file)}
    futures = {client.submit(check_worker, probe, address in with_gpu, workers=[address], allow_other_workers=False,
                             pure=False, key=f"icm-check-{uuid.uuid4().hex[:8]}-{n}"): address
               for n, address in enumerate(workers)}
    problems = []
    for future, address in futures.items():
        problem = future.result()
        if problem:
            problems.append(f"worker {address}: {problem}")
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ResourceError(problems[0] + more)


def _check_gpu_workers(client, config: CtcConfig, gpu: bool) -> tuple[dict, list[str]]:
    """The workers and those with the GPU resource; ResourceError if there is none, or none with a GPU for a
    GPU run."""
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_S)
    except TimeoutError:
        raise ResourceError(f"no worker joined the Dask scheduler at {client.scheduler.address} within "
                            f"{WORKER_WAIT_S:.0f} s") from None
    workers = _workers(client)
    with_gpu = [address for address, info in workers.items() if info.get("resources", {}).get(GPU, 0) > 0]
    if gpu and not with_gpu:
        raise ResourceError(f"device '{config.device}': none of the {len(workers)} workers of the Dask cluster at "
                            f"{client.scheduler.address} has the {GPU} resource (start GPU workers with "
                            f"'dask worker ADDRESS --resources {GPU}=1')")
    return workers, with_gpu


def check_worker(probe: dict, has_gpu: bool) -> str | None:
    """Runs on a worker: what it lacks for the run (one line), or None."""
    from dataclasses import replace

    from .config import check_resources

    run_file = Path(probe["run_file"])
    if not run_file.is_file() or _digest(run_file) != probe["digest"]:
        return (f"does not see the results folder {run_file.parent} (it must be shared, at the same path, "
                f"between the driver and every worker)")
    config = probe["config"]
    try:
        check_resources(config if has_gpu else replace(config, device="cpu"))
    except IcmError as exc:
        return str(exc)
    return None


def _workers(client) -> dict:
    try:
        return client.scheduler_info(n_workers=-1)["workers"]
    except TypeError:  # versions before the n_workers argument list every worker
        return client.scheduler_info()["workers"]


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
