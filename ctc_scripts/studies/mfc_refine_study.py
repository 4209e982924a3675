"""How well the ``mfc`` encoder's latent refinement lowers its own objective, per optimiser, step size and step count.

    python -m icm.ctc_scripts.studies.mfc_refine_study --qualities 1 2 3 4 --optimiser adam --learning-rates 0.02 0.005

Encodes training pictures (default: every third Kodak image; no labels needed, and never the evaluation set)
through ``icm-enc``'s pipeline with an encoder made for each setting, and prints, per setting, the mean
objective J of the last refined tensor at the analysis output and at the kept latent (the refinement costs
that come back with the encode result; at quality 5, the residual's), the mean bpp and the encode time. The
optimiser and step that lower J most are ``MFC_REFINEMENT`` (``encoder/mfc_refine.py``); the
figures are in docs/results.md.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from ...common.config import EncoderConfig
from ...common.image_io import read_image
from ...common.paths import shared_path
from ...common.registry import ToolInstances, default_registry
from ...encoder.mfc import MfcEncoder
from ...encoder.latent_search import OPTIMISERS, RefineSettings
from ...encoder.mfc_refine import MFC_REFINEMENT
from ...encoder.pipeline import encode_picture


def study(quality: int, settings: RefineSettings, steps: int, pictures, model: str | None = None,
          tools: ToolInstances | None = None) -> dict[str, float]:
    """Mean J at the start and at the kept latent, mean bpp and seconds per picture, with an encoder whose
    refinement uses ``settings`` (``tools``: where the models are kept between settings)."""
    models = tools.models if tools is not None else None
    encoder = MfcEncoder(models=models, refinement=settings)
    tools = ToolInstances(models=encoder.models, encoders={encoder.name: encoder})
    first, best, bpp, start = [], [], [], time.perf_counter()
    for rgb in pictures:
        result = encode_picture(rgb, EncoderConfig(tool="mfc", quality=quality, model=model, refine_steps=steps),
                                tools=tools)
        costs = result.info["refine_costs"][-1]
        first.append(costs.start)
        best.append(costs.kept)
        bpp.append(result.bpp)
    return {"J_start": float(np.mean(first)), "J_kept": float(np.mean(best)), "bpp": float(np.mean(bpp)),
            "seconds": (time.perf_counter() - start) / len(pictures)}


def main(argv=None) -> int:
    defaults = MFC_REFINEMENT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qualities", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--optimiser", choices=OPTIMISERS, default=defaults.optimiser)
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[defaults.learning_rate])
    parser.add_argument("--momenta", type=float, nargs="+", default=[defaults.momentum], help="sgd only")
    default_steps = default_registry().get("mfc").resolve(EncoderConfig(tool="mfc"))["refine_steps"]
    parser.add_argument("--steps", type=int, nargs="+", default=[default_steps])
    parser.add_argument("--model", default=None)
    parser.add_argument("--images", default="kodak", help="folder under the shared data folder [kodak]")
    parser.add_argument("--every", type=int, default=3, help="use every N-th picture [3]")
    args = parser.parse_args(argv)
    if any(s < 1 for s in args.steps):
        parser.error("--steps must be at least 1")
    files = sorted(p for p in shared_path("data", args.images).iterdir()
                   if p.suffix.lower() in (".png", ".jpg", ".jpeg"))[::args.every]
    pictures = [read_image(p) for p in files]
    tools = ToolInstances()
    print(f"{args.images}: {len(pictures)} pictures; J = bits / 307200 + lambda * distortion (the model's own)")
    for quality in args.qualities:
        for steps in args.steps:
            momenta = args.momenta if args.optimiser == "sgd" else [MFC_REFINEMENT.momentum]
            for rate, momentum in ((r, m) for r in args.learning_rates for m in momenta):
                settings = RefineSettings(args.optimiser, rate, momentum)
                r = study(quality, settings, steps, pictures, args.model, tools)
                change = 100 * (r["J_kept"] / r["J_start"] - 1)
                with_momentum = f" momentum {momentum:g}" if args.optimiser == "sgd" else ""
                print(f"quality {quality} steps {steps} {args.optimiser} learning rate {rate:g}{with_momentum}: "
                      f"J {r['J_start']:.5f} -> {r['J_kept']:.5f} ({change:+.1f} %), bpp {r['bpp']:.5f}, "
                      f"{r['seconds']:.2f} s/picture",
                      flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
