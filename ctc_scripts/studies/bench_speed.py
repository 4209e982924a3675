"""Encode and decode seconds per picture of several codec points, measured side by side in one run.

    python -m icm.ctc_scripts.studies.bench_speed --limit 16 \\
        --point vvc-image:qp=37 --point vvc-image:qp=37:preset=faster \\
        --point ci-icm:quality=3 --point ci-icm:quality=3:refine_steps=0

A point is ``TOOL[:KEY=VALUE...]``: any encoder setting (``qp``, ``quality``, ``resample``, ``refine_steps``,
``model``, ...), ``preset`` for VVenC, and the decoder's ``max_groups`` and ``decode_task_network``. The points are
interleaved picture by picture (every point codes picture 1, then every point codes picture 2, the order
rotated from one picture to the next), so that a change of machine load during the run weighs on every point
alike and the ratios stay comparable on a shared machine. Each point first codes one picture untimed (model
loading, ffmpeg start-up). Printed per point: bpp, the median and mean encode and decode seconds per picture,
and the medians' ratios to the first point. Learned tools run their networks on one thread (icm's encoders and
decoders always do); VVenC and ffmpeg's VVC decoder use their own default thread counts.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml

from ...common.config import DecoderConfig, EncoderConfig, load_config
from ...common.errors import IcmError
from ...common.image_io import read_image
from ...common.paths import coco_val_dev
from ...common.registry import ToolInstances
from .coding_loop import Tally, code_images

class Point:
    """One codec point: its encoder and decoder configurations and the tally of its pictures."""

    def __init__(self, text: str):
        tool, *pairs = text.split(":")
        encoder, decoder = {"tool": tool}, {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep:
                raise ValueError(f"'{pair}' in point '{text}' is not KEY=VALUE")
            try:
                value = yaml.safe_load(value)
            except yaml.YAMLError:
                raise ValueError(f"cannot read the value of '{pair}' in point '{text}'") from None
            if key == "preset":
                encoder["inner_preset"] = decoder["inner_preset"] = value
            elif key == "max_groups":
                decoder[key] = value
            elif key == "decode_task_network":
                decoder["task_network"] = value
            else:
                encoder[key] = value
        self.name = text
        self.encoder: EncoderConfig = load_config(EncoderConfig, None, **encoder)
        self.decoder: DecoderConfig = load_config(DecoderConfig, None, **decoder)
        self.tally = Tally()

    def code(self, picture, tools: ToolInstances, counted: bool = True) -> None:
        tally = self.tally if counted else Tally()
        for _ in code_images([picture], self.encoder, self.decoder, tally, tools):
            pass


def interleaved(points: list[Point], pictures: list, tools: ToolInstances, progress=print) -> None:
    """Every point codes every picture, picture by picture, the points' order rotated by one each picture."""
    for point in points:
        point.code(pictures[0], tools, counted=False)
    for index, picture in enumerate(pictures):
        shift = index % len(points)
        for point in points[shift:] + points[:shift]:
            point.code(picture, tools)
        progress(f"  picture {index + 1}/{len(pictures)} {picture[0].name}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--point", action="append", required=True, help="TOOL[:KEY=VALUE...] (repeatable)")
    parser.add_argument("--images", type=Path, default=None, help="folder of pictures (default coco-val-dev)")
    parser.add_argument("--limit", type=int, default=16, help="the first N pictures (0 = all)")
    args = parser.parse_args(argv)
    if args.limit < 0:
        parser.error("--limit must be 0 (all) or more")
    try:
        points = [Point(text) for text in args.point]
    except (ValueError, IcmError) as exc:
        parser.error(str(exc))
    try:
        folder = args.images if args.images is not None else coco_val_dev()[0]
        if not folder.is_dir():
            parser.error(f"--images: no folder {folder}")
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if not paths:
            parser.error(f"no .jpg or .png pictures in {folder}")
        pictures = [(p, read_image(p)) for p in paths[: args.limit or None]]
        print(f"{len(pictures)} pictures from {folder}, {len(points)} points, interleaved")
        interleaved(points, pictures, ToolInstances())
    except IcmError as exc:
        print(f"bench_speed: error: {exc}", file=sys.stderr)
        return exc.exit_code
    first = points[0].tally
    print(f"{'point':<40} {'bpp':>8} {'encode s median / mean':>23} {'decode s median / mean':>23} "
          f"{'encode x':>9} {'decode x':>9}")
    for point in points:
        t = point.tally
        enc, dec = np.median(t.encode_seconds), np.median(t.decode_seconds)
        print(f"{point.name:<40} {t.bpp:8.4f} {enc:14.3f} / {t.mean_encode_seconds:6.3f} {dec:14.3f} / "
              f"{t.mean_decode_seconds:6.3f} {enc / np.median(first.encode_seconds):9.2f} "
              f"{dec / np.median(first.decode_seconds):9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
