"""How well ``ci-icm``'s encoder-side latent refinement lowers its objective, per step size and step count,
on held-out training pictures (label-free; never the evaluation set).

    python -m icm.ctc_scripts.studies.ci_icm_refine_study --weights out/ci_icm/ci-icm.npz --qualities 2 4 6 \\
        --learning-rates 0.3 1 3 --steps 10 20

Each held-out training picture (``ctc_scripts/training/pictures.py``, split "heldout") is resized to the
model's input size as the encoder does it and analysed (the hyper latent coded and kept); then, per quality,
step size and step count, all pictures are refined together, each on its own objective J
(``encoder/ci_icm_refine.py``), and the script prints the mean J at the analysis output and at the kept
latent, with its parts there: bpp (of the groups and the hyper latent, per nominal 640 x 480 picture), PSNR of
the plain picture at the coded size and the task distortion T. The step size that lowers J most is
``CI_ICM_REFINEMENT``'s; the figures are in docs/ci-icm.md.
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from ...common.image_io import read_image
from ...common.layers.exact import from_fixed
from ...common.models.ci_icm import NOMINAL_PIXELS, load_runtime
from ...common.models.distill import task_distortion
from ...common.resample import resize_rgb
from ...common.tasknet.registry import load_task_network
from ...encoder.ci_icm_refine import CI_ICM_REFINEMENT, CiIcmRefiner
from ...encoder.latent_search import RefineSettings
from ..training.pictures import select_split, training_picture_files


def heldout_pictures(size: int, count: int) -> torch.Tensor:
    """The first ``count`` held-out training pictures, resized as the encoder resizes them (N x 3 x S x S)."""
    files = select_split(training_picture_files(), "heldout")[:count]
    pictures = [resize_rgb(read_image(f), size, size, filter="bicubic") for f in files]
    return torch.from_numpy(np.stack(pictures)).permute(0, 3, 1, 2).float() / 255.0


@torch.no_grad()
def parts(refiner: CiIcmRefiner, y, hyper, quality: int, x, raw_ref) -> dict:
    """Mean bpp of the groups, PSNR and T of the latents ``y``."""
    bits, x_hat = refiner.decode(y, hyper, quality)
    mse = (x_hat - x).square().mean(dim=(1, 2, 3))
    task = task_distortion(refiner.net(x_hat), raw_ref, per_picture=True)
    return {"bpp_y": float((bits / NOMINAL_PIXELS).mean()), "psnr": float((-10 * torch.log10(mse)).mean()),
            "T": float(task.mean())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", required=True, help="a ci-icm weights file (train_ci_icm export)")
    parser.add_argument("--qualities", type=int, nargs="+", default=[2, 4, 6])
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[CI_ICM_REFINEMENT.learning_rate])
    parser.add_argument("--momentum", type=float, default=CI_ICM_REFINEMENT.momentum)
    parser.add_argument("--steps", type=int, nargs="+", default=[20])
    parser.add_argument("--pictures", type=int, default=12, help="held-out training pictures (at most)")
    parser.add_argument("--task-network", default="yolo-fastest-1.1-xl")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    runtime = load_runtime(args.weights)
    size = runtime.config.input_size
    net = load_task_network(args.task_network, input_size=size).net
    x = heldout_pictures(size, args.pictures)
    print(f"{args.weights}: {len(x)} held-out pictures at {size}x{size}, task network {args.task_network}")
    for quality in args.qualities:
        q = quality - 1
        analysed = [runtime.analyse(x[i:i + 1], q) for i in range(len(x))]
        y = torch.cat([a[0] for a in analysed])
        hyper = from_fixed(torch.cat([a[2] for a in analysed]))
        bpp_z = sum(8 * len(a[1]) for a in analysed) / len(x) / NOMINAL_PIXELS
        with torch.no_grad():
            raw_ref = net(x)
        for rate in args.learning_rates:
            refiner = CiIcmRefiner(runtime, net, RefineSettings("sgd", rate, args.momentum))
            start = parts(refiner, y, hyper, q, x, raw_ref)
            for steps in args.steps:
                began = time.perf_counter()
                kept, first, best = refiner.refine_batch(y, hyper, q, x, steps)
                seconds = (time.perf_counter() - began) / len(x)
                end = parts(refiner, kept, hyper, q, x, raw_ref)
                print(f"q{quality} lr {rate:g} steps {steps}: J {float(first.mean()):.5f} -> {float(best.mean()):.5f} "
                      f"({100 * (float(best.mean()) / float(first.mean()) - 1):+.1f} %) | bpp "
                      f"{start['bpp_y'] + bpp_z:.4f} -> {end['bpp_y'] + bpp_z:.4f}, PSNR {start['psnr']:.2f} -> "
                      f"{end['psnr']:.2f} dB, T {start['T']:.1f} -> {end['T']:.1f} | {seconds:.2f} s a picture",
                      flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
