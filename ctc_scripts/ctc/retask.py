"""The streams of a finished CTC run evaluated with another task network, without encoding the pictures again.

    icm-ctc retask results/coco-val-dev --task-network yolo-fastest-1.1 -o results/coco-val-dev-yf11 \\
        --codec uncompressed --codec vvc-image --codec npp-vvc

A picture codec's stream does not depend on the task network that evaluates it (``vvc-image`` and ``npp-vvc``
streams are the same whichever detector reads the decoded picture), so "how does detector B do on the streams
made for the run of detector A" is answered by decoding the kept bitstreams of run A
(``<A>/points/<codec>/<point>/<image>.icm``) and running B on the decoded pictures. The result is an ordinary
results folder: ``run.json`` (run A's configuration with B as the task network, the chosen codecs only), one
record per image that names run A's bitstream, and the report of ``icm-ctc report`` (mAP, task fidelity
against B on the original pictures, BD-rate with intervals). Rates and encode times are run A's; the one
item per point that counts multiply-accumulates encodes the first picture in memory, as ``icm-ctc run`` does.

A codec decoded through run A's task network's adapter (``decode: {task_network: A}``, ci-icm's TSCA) is
decoded through B's adapter instead, so that each network reads the picture made for it; a codec decoded
plain stays plain (ci-icm's TSCA ablation: the same streams without an adapter).

Only codecs whose streams decode to a picture qualify: a feature codec's stream names the network whose split
features it carries, and another network cannot read them (``icm-ctc retask`` refuses it with one line).
The run resumes as ``icm-ctc run`` does: a record with the current key is never redone.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ...common.errors import ConfigError, InputError
from .dataset import Dataset
from .items import finish_item
from .progress import Progress
from .records import POINTS_DIR, read_record
from .report import load_run
from .runner import pending_items, plan, write_run_file

PICTURE_OUTPUT = 0  # dh_output_type of a decoded picture (decoding.md D.2.5)


def retask_config(source: str | Path, task_network: str, output: str | Path, codecs: list[str] | None = None):
    """Run A's configuration with ``task_network`` as the task network, writing to ``output``, with only
    ``codecs`` (all of A's when None; anchors that are not among them are dropped); and A's dataset and point
    keys."""
    config, dataset, keys = load_run(source)
    chosen = config.select(codecs)  # ConfigError for a codec A does not have
    if task_network == config.task_network:
        raise ConfigError(f"{source} was evaluated with {task_network} already")
    new = replace(chosen, task_network=task_network, output=str(output),
                  codecs=[_adapted_to(codec, config.task_network, task_network) for codec in chosen.codecs])
    return new, dataset, keys


def _adapted_to(codec, network_a: str, network_b: str):
    """``codec``, decoded through ``network_b``'s task adapter where it was decoded through ``network_a``'s
    (``decode: {task_network: A}``, e.g. ci-icm's TSCA): each network reads the picture of its own adapter.
    A codec decoded plain, or through another network's adapter, is decoded as in run A."""
    if codec.decode.get("task_network") != network_a:
        return codec
    return replace(codec, decode=dict(codec.decode, task_network=network_b))


def _source_record(source: Path, spec: dict, keys: dict) -> dict:
    stem = Path(spec["file"]).stem
    path = Path(source) / POINTS_DIR / spec["point"] / f"{stem}.json"
    record = read_record(path, keys.get(spec["point"]))
    if record is None:
        raise InputError(f"{source}: no finished record for {spec['point']}, {spec['file']}: finish that run first")
    return record


def _check_picture_stream(path: Path, point: str) -> None:
    from ...common.bitstream import parse
    from ...decoder.pipeline import read_bitstream_file

    bitstream = parse(read_bitstream_file(str(path)))
    if bitstream.output_hash is None or bitstream.output_hash["dh_output_type"] != PICTURE_OUTPUT:
        raise ConfigError(f"{point}: its streams decode to feature tensors of the network they name; only "
                          "picture codecs can be evaluated with another task network")


def retask_items(source: str | Path, new_config, dataset: Dataset, keys: dict) -> list[tuple[dict, dict | None]]:
    """``(spec, encoded)`` for every work item of the new run: the item's decode reads run A's bitstream, and
    ``encoded`` carries run A's picture size and encode time (None for ``uncompressed`` and complexity items)."""
    items, checked = [], set()
    for spec in plan(new_config, dataset):
        encoded = None
        if spec["kind"] == "image" and spec["tool"] != "uncompressed":
            record = _source_record(Path(source), spec, keys)
            bitstream = Path(source) / POINTS_DIR / spec["point"] / record["bitstream"]
            if spec["point"] not in checked:
                _check_picture_stream(bitstream, spec["point"])
                checked.add(spec["point"])
            spec = dict(spec, bitstream=str(bitstream))
            encoded = {"width": record["width"], "height": record["height"], "encode_s": record["encode_s"]}
        items.append((spec, encoded))
    return items


def run_retask(source: str | Path, task_network: str, output: str | Path, codecs: list[str] | None = None,
               progress: bool = True) -> Path:
    """Evaluate run A's streams with ``task_network`` into ``output`` (see the module doc), then its report."""
    from .config import check_resources
    from .report import build_report

    new_config, dataset, keys = retask_config(source, task_network, output, codecs)
    check_resources(new_config)  # the task network's weights, the inner decoder, the dataset
    items = retask_items(source, new_config, dataset, keys)
    Path(output).mkdir(parents=True, exist_ok=True)
    write_run_file(new_config, dataset)
    pending = pending_items(items, spec_of=lambda item: item[0])
    bar = Progress(len(items), done=len(items) - len(pending), enabled=progress)
    for spec, encoded in pending:
        finish_item(spec, encoded)
        bar.update(spec["point"])
    bar.close()
    build_report(output)
    return Path(output)
