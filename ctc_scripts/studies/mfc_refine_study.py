"""How well the ``mfc`` encoder's latent refinement lowers its own objective, per Adam step size and step count.

    python -m icm.ctc_scripts.studies.mfc_refine_study --qualities 1 2 3 4 --optimiser adam --learning-rates 0.02 0.005

Encodes training pictures (default: every third Kodak image; no labels needed, and never the evaluation set)
through ``icm-enc``'s pipeline and prints, per setting, the mean objective J of the refined tensor at the
analysis output and at the kept latent (``LatentRefiner.last_costs``; at quality 5, the residual's), the mean
bpp and the encode time. The optimiser and step that lower J most are the encoder's ``OPTIMISER`` and
``LEARNING_RATE`` (``encoder/mfc_refine.py``); the figures are in docs/results.md.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from ...common.config import EncoderConfig
from ...common.image_io import read_image
from ...common.paths import shared_path
from ...encoder import mfc as mfc_encoder
from ...encoder import mfc_refine
from ...encoder.pipeline import encode_picture


def study(quality: int, optimiser: str, learning_rate: float, steps: int, pictures,
          model: str | None = None) -> dict[str, float]:
    """Mean J at the start and at the kept latent, mean bpp and seconds per picture."""
    saved = mfc_refine.OPTIMISER, mfc_refine.LEARNING_RATE
    mfc_refine.OPTIMISER, mfc_refine.LEARNING_RATE = optimiser, learning_rate
    try:
        first, best, bpp, start = [], [], [], time.perf_counter()
        for rgb in pictures:
            result = encode_picture(rgb, EncoderConfig(tool="mfc", quality=quality, model=model, refine_steps=steps))
            costs = mfc_encoder._REFINERS["refiner"].last_costs
            first.append(costs[0])
            best.append(costs[1])
            bpp.append(result.bpp)
    finally:
        mfc_refine.OPTIMISER, mfc_refine.LEARNING_RATE = saved
    return {"J_start": float(np.mean(first)), "J_kept": float(np.mean(best)), "bpp": float(np.mean(bpp)),
            "seconds": (time.perf_counter() - start) / len(pictures)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qualities", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--optimiser", choices=mfc_refine.OPTIMISERS, default=mfc_refine.OPTIMISER)
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[mfc_refine.LEARNING_RATE])
    parser.add_argument("--steps", type=int, nargs="+", default=[mfc_encoder.DEFAULT_REFINE_STEPS])
    parser.add_argument("--model", default=None)
    parser.add_argument("--images", default="kodak", help="folder under the shared data folder [kodak]")
    parser.add_argument("--every", type=int, default=3, help="use every N-th picture [3]")
    args = parser.parse_args(argv)
    if any(s < 1 for s in args.steps):
        parser.error("--steps must be at least 1")
    files = sorted(p for p in shared_path("data", args.images).iterdir()
                   if p.suffix.lower() in (".png", ".jpg", ".jpeg"))[::args.every]
    pictures = [read_image(p) for p in files]
    print(f"{args.images}: {len(pictures)} pictures; J = bits / 307200 + lambda * distortion (the model's own)")
    for quality in args.qualities:
        for steps in args.steps:
            for rate in args.learning_rates:
                r = study(quality, args.optimiser, rate, steps, pictures, args.model)
                change = 100 * (r["J_kept"] / r["J_start"] - 1)
                print(f"quality {quality} steps {steps} {args.optimiser} learning rate {rate:g}: "
                      f"J {r['J_start']:.5f} -> {r['J_kept']:.5f} ({change:+.1f} %), bpp {r['bpp']:.5f}, "
                      f"{r['seconds']:.2f} s/picture",
                      flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
