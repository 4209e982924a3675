"""One work item of a CTC: a picture of a point through the real encoder, decoder and task network, and its record.

For each (codec, QP) point and each image the work item

1. encodes the image with ``icm.encoder.pipeline.encode_file`` (what ``icm-enc`` runs), writing the
   bitstream file ``<out>/points/<codec>/qpNN/<image>.icm`` (``encode_stage``); a codec that only decodes
   differently than another codec of the run (``decode`` settings) copies that codec's finished stream instead
   (``reuse_stream``);
2. reads that file back and decodes it with ``read_bitstream_file`` + ``decode_bytes`` (what ``icm-dec``
   runs, hash check included);
3. runs the task network on the decoded output: the whole network on a decoded picture, NN part 2 of the
   stream's task network on decoded feature tensors (as ``icm-dec --detections``);
4. writes ``<image>.json`` atomically and once (``publish_record``): bits (those the decode needs: a
   codec that decodes only the first k channel groups, ``decode: {max_groups: k}``, is charged the stream
   less the payloads of the other groups), picture size, encode / decode /
   task seconds, the decoded-output MD5, the detections (COCO results format; instance masks as RLE when the
   network gives them) and the point's key (a fingerprint of its settings).

Steps 2-4 are ``finish_item``; an engine may run them on another worker than step 1 (``placement.py``).
``uncompressed`` runs only step 3 on the original picture. One more item per point measures the networks'
multiply-accumulates on the first image (``complexity.json``). An item that fails with an IcmError (bad
data) comes back as a failure (``guarded_call``) and the run goes on. Everything here runs in the process
that runs the item: the driver, a worker process of ``--jobs``, or an engine's worker.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import numpy as np

from ...common.errors import IcmError, OutputError
from .records import read_record

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


def encode_stage(spec: dict) -> dict | None:
    """Step 1 of a coded picture's item: encode to the bitstream file (written atomically; an encoder's
    stream is deterministic, so a repeated attempt writes the same bytes). Returns what the record needs
    from the encode; None for the items that have no separate encode (``uncompressed``, complexity)."""
    if spec["kind"] != "image" or spec["tool"] == "uncompressed":
        return None
    reused = reuse_stream(spec)
    if reused is not None:
        return reused
    from ...encoder.pipeline import encode_file

    encoded = encode_file(spec["image_path"], spec["bitstream"], spec["encoder"], tools=_tools())
    return {"width": encoded.width, "height": encoded.height, "encode_s": encoded.encode_seconds}


def reuse_stream(spec: dict) -> dict | None:
    """The encode of an item whose stream another point has already made (``stream_source``: a codec that only
    decodes differently): that point's bitstream file copied, with the size and encode seconds of its
    record. None when there is none (not made yet, or stale): the item then encodes the picture itself,
    which gives the same stream."""
    source = spec.get("stream_source")
    if not source:
        return None
    from ...common.fileio import write_bytes_atomically

    record = read_record(Path(source["record"]), source["key"])
    try:
        data = Path(source["bitstream"]).read_bytes()
    except OSError:
        return None
    if record is None or record.get("bitstream") != Path(source["bitstream"]).name or 8 * len(data) != record["bits"]:
        return None
    write_bytes_atomically(spec["bitstream"], data)
    return {"width": record["width"], "height": record["height"], "encode_s": record["encode_s"]}


def finish_item(spec: dict, encoded: dict | None) -> dict:
    """Steps 2-4 of an item whose encode (``encode_stage``) is done: decode, task network, record. Returns the
    record that stands (see ``publish_record``)."""
    from ...common.image_io import read_image
    from ...decoder.pipeline import decode_bytes, read_bitstream_file
    from ...encoder.pipeline import encode_picture
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
        return publish_record(spec["record"], record)

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
        data = read_bitstream_file(spec["bitstream"])
        decoded = decode_bytes(data, spec["decoder"], tools=_tools())
        start = time.perf_counter()
        detections = detect_output(decoded.output, decoded.bitstream.parameter_set, spec)
        _synchronize(device)
        record.update(width=encoded["width"], height=encoded["height"], bits=8 * decoded.needed_bytes,
                      encode_s=encoded["encode_s"], decode_s=decoded.decode_seconds,
                      task_s=time.perf_counter() - start, md5=decoded.hash_hex,
                      bitstream=Path(spec["bitstream"]).name)
    record["detections"] = detections_to_results(detections, spec["image_id"])
    return publish_record(spec["record"], record)


def process_item(spec: dict) -> dict:
    """Run one work item (see the module doc) and write its record; return the record."""
    return finish_item(spec, encode_stage(spec))


def publish_record(path: str | os.PathLike, record: dict) -> dict:
    """Write ``record`` at ``path`` once, atomically, and return the record that stands there.

    The record is written to a temporary file of this attempt (host, process, random part) and linked to
    ``path``, which fails if a file is there: when a repeated attempt of the item (a retry whose first attempt
    still runs on a worker the cluster took for dead) finishes second, the first record stands and is
    returned; no reader ever sees a partial record. A record of another key there (a stale one: the driver
    removes those before it submits the item) is replaced. File systems without hard links: replace."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{socket.gethostname()}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(record, indent=1) + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            standing = read_record(path, record["key"])
            if standing is not None:
                return standing
            os.replace(temporary, path)
        except OSError:  # no hard links here (some network file systems): an atomic replace
            os.replace(temporary, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or type(exc).__name__}") from None
    finally:
        try:
            temporary.unlink(missing_ok=True)
        except OSError:
            pass
    return record


def guarded_call(function, spec: dict, *args) -> dict:
    """``{"result": function(spec, *args)}``, or ``{"failure": message, "exit_code": status}`` when the item
    fails with an IcmError (bad data: a corrupt picture, a stream the decoder rejects, an inner codec that
    fails): that item is recorded as failed and the run goes on. Any other exception is a bug and propagates."""
    try:
        return {"result": function(spec, *args)}
    except IcmError as exc:
        return {"failure": f"{spec['point']}, {spec['file']}: {exc}", "exit_code": exc.exit_code}


def run_item(spec: dict) -> dict:
    """process_item through guarded_call: ``{"result": record}`` or ``{"failure": ..., "exit_code": ...}``."""
    return guarded_call(process_item, spec)
