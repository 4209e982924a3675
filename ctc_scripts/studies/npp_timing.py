"""npp-vvc's encode time against the VVC image anchor's, side by side in one run: the preprocessor alone, and the
whole encode (as ``icm-enc`` reports it) of ``npp-vvc`` and of ``vvc-image`` with VVenC ``medium`` and ``faster``.

    python -m icm.ctc_scripts.studies.npp_timing --limit 16 --qp 37

Every picture goes through each configuration in turn (so a slow moment of a shared machine touches them all
alike); times are means per picture on one thread (the encoders' setting), after one warm-up picture that also
loads the model. "NPP" is the preprocessor's forward pass at the coded size (full resolution, or 320x320 with
``--resample task``); the encode times include VVenC, the decode for the stream's hash and the writing.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from ...anchors.vvc_image import coded_picture
from ...common.config import EncoderConfig, InnerCodecConfig
from ...common.image_io import read_image
from ...common.paths import coco_val_dev
from ...common.registry import ToolInstances
from ...common.threads import torch_threads
from ...encoder.pipeline import encode_picture

CONFIGS = (  # (label, tool, preset, what is timed)
    ("NPP only", "npp-vvc", "medium", "npp"),
    ("npp-vvc, VVenC medium", "npp-vvc", "medium", "encode"),
    ("vvc-image, VVenC medium", "vvc-image", "medium", "encode"),
    ("vvc-image, VVenC faster", "vvc-image", "faster", "encode"),
)


def seconds(rgb: np.ndarray, config: EncoderConfig, what: str, tools: ToolInstances) -> float:
    if what == "npp":
        picture, _ = coded_picture(rgb, config)  # as the encoder resamples before its transform
        encoder = tools.encoder(config.tool)
        with torch_threads(1):
            start = time.perf_counter()
            encoder.transform(picture, config)
            return time.perf_counter() - start
    return encode_picture(rgb, config, tools=tools).encode_seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=16, help="the first N coco-val-dev pictures (default 16)")
    parser.add_argument("--qp", type=int, default=37)
    parser.add_argument("--resample", default=None, help="'task' to code at the task network's input size")
    args = parser.parse_args(argv)
    folder, _ = coco_val_dev()
    paths = sorted(folder.glob("*.jpg"))[: args.limit + 1]
    tools = ToolInstances()
    configs = [(label, what, EncoderConfig(tool=tool, qp=args.qp, resample=args.resample,
                                           inner=InnerCodecConfig(preset=preset)))
               for label, tool, preset, what in CONFIGS]
    totals = {label: [] for label, _, _ in configs}
    pixels = []
    for index, path in enumerate(paths):
        rgb = read_image(path)
        for label, what, config in configs:
            value = seconds(rgb, config, what, tools)
            if index:  # the first picture warms up (model loading, first VVenC call)
                totals[label].append(value)
        if index:
            pixels.append(rgb.shape[0] * rgb.shape[1])
    print(f"coco-val-dev: {len(pixels)} pictures (mean {np.mean(pixels) / 1e3:.0f} kpixels), QP {args.qp}, "
          f"resample {args.resample or 'none'}, one thread, seconds per picture")
    reference = np.mean(totals["vvc-image, VVenC medium"])
    print(f"{'configuration':<26} {'s/picture':>10} {'x vvc-image medium':>19}")
    for label, values in totals.items():
        print(f"{label:<26} {np.mean(values):10.3f} {np.mean(values) / reference:19.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
