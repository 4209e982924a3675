"""Measure the inner codec on one photo: bits, PSNR and encode/decode wall time.

Usage::

    .venv/bin/python -m icm.common.innercodec.bench [--image PATH] [--codec vvenc]
        [--presets faster medium] [--qps 22 32 42] [--repeat 1]

Without ``--image`` it takes the first 640x480 photo (by file name) of the shared
``coco-val-dev`` set. The photo goes through :func:`icm.common.colour.rgb_to_yuv420` (BT.601,
limited range, 10 bit), is coded as 4:2:0, decoded with ffmpeg's VVC decoder and compared with
the 10-bit planes it was coded from. Times are wall-clock seconds per call (including starting
the external program), the minimum over ``--repeat`` runs; bpp counts payload bits per pixel of
the original (unpadded) picture.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from ..colour import rgb_to_yuv420, yuv420_to_rgb
from ..image_io import read_image
from ..paths import coco_val_dev
from .base import BIT_DEPTH, YuvPlanes
from .registry import get_inner_codec


def plane_psnr(reference: np.ndarray, test: np.ndarray, peak: int) -> float:
    """PSNR in dB between two sample arrays with the given peak value (inf when identical)."""
    mse = np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(peak * peak / mse))


def default_image() -> Path:
    """The first 640x480 photo of coco-val-dev (sorted by name)."""
    from PIL import Image

    images, _ = coco_val_dev()
    for path in sorted(images.glob("*.jpg")):
        with Image.open(path) as image:
            if image.size == (640, 480):
                return path
    raise SystemExit("no 640x480 photo in coco-val-dev")


def _timed(function, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return result, best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image", type=Path)
    parser.add_argument("--codec", default="vvenc")
    parser.add_argument("--presets", nargs="+", default=["faster", "medium"])
    parser.add_argument("--qps", nargs="+", type=int, default=[22, 32, 42])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)

    image_path = args.image or default_image()
    rgb = read_image(image_path)
    height, width = rgb.shape[:2]
    planes = YuvPlanes(*rgb_to_yuv420(rgb))
    peak = (1 << BIT_DEPTH) - 1
    print(f"image {image_path.name} {width}x{height}; codec {args.codec}; {os.cpu_count()} CPUs; "
          f"{platform.processor() or platform.machine()}; python {sys.version.split()[0]}")
    print(f"{'preset':8} {'qp':>3} {'bytes':>7} {'bpp':>7} {'PSNR-Y':>7} {'PSNR-U':>7} {'PSNR-V':>7} "
          f"{'PSNR-RGB':>8} {'enc s':>7} {'dec s':>6}")
    for preset in args.presets:
        codec = get_inner_codec(args.codec, **({"preset": preset} if args.codec == "vvenc" else {}))
        for qp in args.qps:
            payload, encode_s = _timed(lambda: codec.encode(planes, qp), args.repeat)
            decoded, decode_s = _timed(lambda: codec.decode(payload, width, height), args.repeat)
            rgb_out = yuv420_to_rgb(decoded.y, decoded.u, decoded.v)
            print(f"{preset:8} {qp:3d} {len(payload):7d} {8 * len(payload) / (width * height):7.4f} "
                  f"{plane_psnr(planes.y, decoded.y, peak):7.2f} {plane_psnr(planes.u, decoded.u, peak):7.2f} "
                  f"{plane_psnr(planes.v, decoded.v, peak):7.2f} {plane_psnr(rgb, rgb_out, 255):8.2f} "
                  f"{encode_s:7.2f} {decode_s:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
