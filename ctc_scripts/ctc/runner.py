"""Runs the grid of a CTC: every image of every point through the real encoder, decoder and task network.

For each (codec, QP) point and each image the work item

1. encodes the image with ``icm.encoder.pipeline.encode_file`` (what ``icm-enc`` runs), writing the
   bitstream file ``<out>/points/<codec>/qpNN/<image>.icm``;
2. reads that file back and decodes it with ``read_bitstream_file`` + ``decode_bytes`` (what ``icm-dec``
   runs, hash check included);
3. runs the task network on the decoded output: the whole network on a decoded picture, NN part 2 of the
   stream's task network on decoded feature tensors (as ``icm-dec --detections``);
4. writes ``<image>.json`` atomically: bits, picture size, encode / decode / task seconds, the decoded-
   output MD5, the detections (COCO results format; instance masks as RLE when the network gives them)
   and the point's key (a fingerprint of its settings).

A record that exists with the current key is a finished item: a run that is interrupted and started again
redoes nothing that was finished. ``uncompressed`` runs only step 3 on the original picture. One more
item per point measures the networks' multiply-accumulates on the first image (``complexity.json``).
With ``jobs > 1`` the items run in that many processes (spawned; each loads its own task network).
"""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from ...common.errors import IcmError
from ...common.fileio import write_json_atomically
from .config import CodecConfig, CtcConfig, check_resources
from .dataset import Dataset
from .progress import Progress
from .records import COMPLEXITY_FILE, RUN_FILE, point_dir, point_name, read_record

@dataclass
class RunSummary:
    items: int
    cached: int
    computed: int
    seconds: float
    output: Path


# -- one work item (runs in the main process or in a worker) ---------------------------------------

_NETWORKS: dict = {}
_TOOLS: list = []  # this process's ToolInstances (encoders, decoders and their models), made on first use


def _tools():
    from ...common.registry import ToolInstances

    if not _TOOLS:
        _TOOLS.append(ToolInstances())
    return _TOOLS[0]


def _network(name: str, size, device: str):
    from ...common.tasknet.registry import load_task_network

    key = (name, tuple(size) if isinstance(size, (tuple, list)) else size, device)
    if key not in _NETWORKS:
        network = load_task_network(name, input_size=size, device=device)
        network.detect(np.zeros((64, 64, 3), np.uint8))  # warm-up, so the first image's task time is not inflated
        _NETWORKS[key] = network
    return _NETWORKS[key]


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        import torch
        torch.cuda.synchronize()


def detect_output(output, parameter_set: dict, spec: dict):
    """Task network on a decoded output: a picture through the CTC's network, feature tensors through NN
    part 2 of the network the stream names (at the stream's input size), as ``icm-dec --detections``."""
    import torch

    from ...common.errors import BitstreamError
    from ...common.syntax import structures as S

    if output.picture is not None:
        network = _network(spec["task_network"], spec["task_input_size"], spec["device"])
        with torch.no_grad():
            return network.detect(output.picture)
    name = S.TASK_NETWORKS.get(parameter_set.get("ps_task_network_id", 0))
    if name in (None, "none"):
        raise BitstreamError(f"{spec['file']}: feature stream without a task network")
    size = (parameter_set["ps_task_input_width"], parameter_set["ps_task_input_height"])
    network = _network(name, size, spec["device"])
    tensors = [torch.from_numpy(np.ascontiguousarray(t))[None].to(network.device) for t in output.features]
    network.check_features(tensors)
    with torch.no_grad():
        return network.part2(tensors, (parameter_set["ps_picture_width"], parameter_set["ps_picture_height"]))


def detections_to_results(detections, image_id: int) -> list[dict]:
    """COCO results; with ``detections.masks`` (N x H x W, original-picture pixels) also RLE segmentations."""
    results = detections.to_coco_results(image_id)
    masks = getattr(detections, "masks", None)
    if masks is not None:
        from pycocotools import mask as mask_utils
        masks = np.asarray(masks)
        for entry, mask in zip(results, masks):
            rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
            entry["segmentation"] = {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}
    return results


def process_item(spec: dict) -> dict:
    """Run one work item (see the module doc) and write its record; return the record."""
    from ...common.image_io import read_image
    from ...decoder.pipeline import decode_bytes, read_bitstream_file
    from ...encoder.pipeline import encode_file, encode_picture
    from .complexity import count_macs

    device = spec["device"]
    if spec["kind"] == "complexity":
        rgb = read_image(spec["image_path"])
        height, width = rgb.shape[:2]
        macs = {"encode_macs": 0, "decode_macs": 0}
        if spec["tool"] == "uncompressed":
            network = _network(spec["task_network"], spec["task_input_size"], device)
            _, macs["task_macs"] = count_macs(network.detect, rgb)
        else:
            encoded, macs["encode_macs"] = count_macs(encode_picture, rgb, spec["encoder"], tools=_tools())
            decoded, macs["decode_macs"] = count_macs(decode_bytes, encoded.data, spec["decoder"], tools=_tools())
            # Not counted: loads (and warms up) the task network this output needs, if this process has not yet.
            detect_output(decoded.output, decoded.bitstream.parameter_set, spec)
            _, macs["task_macs"] = count_macs(detect_output, decoded.output, decoded.bitstream.parameter_set, spec)
        record = {"key": spec["key"], "image": spec["file"], "width": width, "height": height, **macs}
        write_json_atomically(spec["record"], record)
        return record

    record = {"key": spec["key"], "image": spec["file"], "image_id": spec["image_id"]}
    if spec["tool"] == "uncompressed":
        rgb = read_image(spec["image_path"])
        network = _network(spec["task_network"], spec["task_input_size"], device)
        start = time.perf_counter()
        detections = network.detect(rgb)
        _synchronize(device)
        record.update(width=rgb.shape[1], height=rgb.shape[0], bits=0, encode_s=0.0, decode_s=0.0,
                      task_s=time.perf_counter() - start)
    else:
        encoded = encode_file(spec["image_path"], spec["bitstream"], spec["encoder"], tools=_tools())
        data = read_bitstream_file(spec["bitstream"])
        decoded = decode_bytes(data, spec["decoder"], tools=_tools())
        start = time.perf_counter()
        detections = detect_output(decoded.output, decoded.bitstream.parameter_set, spec)
        _synchronize(device)
        record.update(width=encoded.width, height=encoded.height, bits=8 * len(data),
                      encode_s=encoded.encode_seconds, decode_s=decoded.decode_seconds,
                      task_s=time.perf_counter() - start, md5=decoded.hash_hex,
                      bitstream=Path(spec["bitstream"]).name)
    record["detections"] = detections_to_results(detections, spec["image_id"])
    write_json_atomically(spec["record"], record)
    return record


def _run_guarded(spec: dict) -> dict:
    """process_item, with the point and image named in any error."""
    try:
        return process_item(spec)
    except IcmError as exc:
        raise type(exc)(f"{spec['point']}, {spec['file']}: {exc}") from None


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
    for codec, qp in config.points():
        key = config.point_key(codec, qp)
        encoder = config.encoder_config(codec, qp) if codec.coded else None
        decoder = config.decoder_config(codec) if codec.coded else None
        common = dict(codec=codec.name, tool=codec.tool, value=qp, key=key, point=point_name(codec, qp),
                      encoder=encoder, decoder=decoder, task_network=config.task_network,
                      task_input_size=config.task_input_size, device=config.device)
        folder = point_dir(root, codec, qp)
        for index, file_name in enumerate(dataset.files):
            stem = Path(file_name).stem
            items.append(dict(common, kind="image", file=file_name, image_id=dataset.image_ids[index],
                              image_path=str(dataset.path(index)), record=str(folder / f"{stem}.json"),
                              bitstream=str(folder / f"{stem}.icm")))
        items.append(dict(common, kind="complexity", file=dataset.files[0], image_id=dataset.image_ids[0],
                          image_path=str(dataset.path(0)), record=str(folder / COMPLEXITY_FILE)))
    return items


def write_run_file(config: CtcConfig, dataset: Dataset) -> None:
    root = config.output_dir()
    keys = {point_name(codec, qp): config.point_key(codec, qp) for codec, qp in config.points()}
    write_json_atomically(root / RUN_FILE, {"config": config.to_dict(), "dataset": dataset.to_dict(), "keys": keys})


def run_ctc(config: CtcConfig, dataset: Dataset | None = None, progress: bool = True, on_item_done=None,
            report: bool = True) -> RunSummary:
    """Run (or finish) the CTC and build its report. ``on_item_done(spec, record)`` is called after each
    computed item (tests use it to interrupt a run)."""
    started = time.monotonic()
    if dataset is None:
        dataset = check_resources(config)
    root = config.output_dir()
    root.mkdir(parents=True, exist_ok=True)
    write_run_file(config, dataset)
    items = plan(config, dataset)
    pending = [spec for spec in items if read_record(Path(spec["record"]), spec["key"]) is None]
    bar = Progress(len(items), done=len(items) - len(pending), enabled=progress)
    computed = 0
    # SIGTERM (kill) stops the run like Ctrl-C: finished items stay, the workers are shut down.
    previous = signal.signal(signal.SIGTERM, _interrupt) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        if config.jobs <= 1 or len(pending) <= 1:
            for spec in pending:
                record = _run_guarded(spec)
                computed += 1
                bar.update(spec["point"])
                if on_item_done is not None:
                    on_item_done(spec, record)
        else:
            threads = max(1, (os.cpu_count() or 1) // config.jobs)
            executor = ProcessPoolExecutor(max_workers=config.jobs, mp_context=get_context("spawn"),
                                           initializer=_init_worker, initargs=(threads,))
            try:
                queue = iter(pending)
                running = {}
                for spec in queue:  # keep 2 items per worker in flight, so a stop leaves little half-done
                    running[executor.submit(_run_guarded, spec)] = spec
                    if len(running) >= 2 * config.jobs:
                        break
                while running:
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        spec = running.pop(future)
                        record = future.result()
                        computed += 1
                        bar.update(spec["point"])
                        if on_item_done is not None:
                            on_item_done(spec, record)
                        following = next(queue, None)
                        if following is not None:
                            running[executor.submit(_run_guarded, following)] = following
            finally:
                executor.shutdown(wait=True, cancel_futures=True)
    finally:
        bar.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if report:
        from .report import build_report
        build_report(root)
    return RunSummary(len(items), len(items) - len(pending), computed, time.monotonic() - started, root)
