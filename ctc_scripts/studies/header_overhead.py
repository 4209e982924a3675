"""Bytes of an ICM stream that are not coded data, per tool and rate point (the table of docs/results.md).

    python -m icm.ctc_scripts.studies.header_overhead --tool mfc --qualities 1 2 3 4 5 --images 8

"Payload" is the coded data itself: the bytes of the entropy-coded substreams or of the inner-codec bitstream
(``pl_data``); everything else (bitstream header, parameter set, feature and channel-group headers, the unit
framing, substream sizes, the decoded-output hash) is overhead. The pictures are the first ``--images`` of
coco-val-dev (the overhead depends on the picture size only through a few ue(v) values). Only public APIs that
every syntax version has are used, so the same file measures an older checkout (``PYTHONPATH`` to it).
"""
from __future__ import annotations

import argparse
import statistics

from icm.common.bitstream import parse
from icm.common.config import EncoderConfig
from icm.common.image_io import read_image
from icm.common.paths import coco_val_dev
from icm.common.registry import ToolInstances
from icm.encoder.pipeline import encode_picture


def overhead(data: bytes) -> tuple[int, int]:
    """(all bytes, payload bytes) of a stream."""
    return len(data), sum(len(unit["pl_data"]) for unit in parse(data).payloads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tool", default="mfc")
    parser.add_argument("--qualities", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--images", type=int, default=8)
    args = parser.parse_args()
    pictures = sorted(coco_val_dev()[0].glob("*.jpg"))[:args.images]
    tools = ToolInstances()
    print(f"{'quality':>7} {'bytes':>8} {'payload':>8} {'overhead':>8} {'overhead %':>10}  (mean of {len(pictures)})")
    for quality in args.qualities:
        sizes = [overhead(encode_picture(read_image(str(p)), EncoderConfig(tool=args.tool, quality=quality),
                                         tools=tools).data) for p in pictures]
        total = statistics.mean(s[0] for s in sizes)
        payload = statistics.mean(s[1] for s in sizes)
        print(f"{quality:>7} {total:8.1f} {payload:8.1f} {total - payload:8.1f} {100 * (total - payload) / total:10.1f}")


if __name__ == "__main__":
    main()
