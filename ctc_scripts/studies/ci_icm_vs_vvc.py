"""Label-free comparison of a ``ci-icm`` training checkpoint with VVC at the same coded size (320 x 320).

    python -m icm.ctc_scripts.studies.ci_icm_vs_vvc --run out/ci_icm/runs/main --qps 32 37 42 47 50
    python -m icm.ctc_scripts.studies.ci_icm_vs_vvc --weights ci-icm.npz --refine-steps 10 --qualities 2 4 6

On the held-out training pictures (whole, resized to 320 x 320; never coco-val-dev), both codecs are measured
the way the ci-icm trainer validates: bpp (bits per nominal 640 x 480 picture), PSNR of the decoded picture
and the task distortion T of the frozen XL detector between the decoded and the original picture. VVC is the
``vvc-image`` path (VVenC, ``--preset``, one thread; the VVC payload's bits) on the same 320 x 320 pictures:
the ``vvc-image --resample task`` anchor without the constant parameter set. Linear interpolation of VVC's
curve at ci-icm's rates gives the picture quality and the task distortion VVC has at the same rate. With
``--weights`` the tool itself is measured instead of a checkpoint's float model: its encoder (with the latent
refinement of ``--refine-steps``), its substreams' bits and its exact decode. No labels
are used, so a model or setting may be chosen by these figures.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch

from ..training.npp_pairs import VvcImageRoundTrip
from ..training.pictures import PictureSet, training_picture_files
from ..training.skeleton import load_checkpoint
from ..training.train_ci_icm import TARGET, TASK_SIZE, Teacher, psnr
from ...common.models.ci_icm import NOMINAL_PIXELS, CiIcmConfig, CiIcmModel


def load_model(run: Path) -> CiIcmModel:
    state = load_checkpoint(run / "ckpt.pt" if run.is_dir() else run)
    model = CiIcmModel(CiIcmConfig.from_dict(json.loads(state["extra"]["config"])))
    model.load_state_dict(state["model"])
    return model.eval()


@torch.no_grad()
def measure_ci_icm(model: CiIcmModel, x_all: torch.Tensor, teacher: Teacher) -> list[dict]:
    rows = []
    for q in range(model.config.qualities):
        bits = mse = t = 0.0
        for start in range(0, len(x_all), 8):
            x = x_all[start:start + 8]
            out = model(x, torch.full((len(x),), q, dtype=torch.long), noise=False)
            bits += out["bits"].sum().item()
            mse += (out["x_hat"] - x).square().mean(dim=(1, 2, 3)).sum().item()
            t += teacher.distortion(out["x_hat"], teacher.raw(x)).item() * len(x)
        n = len(x_all)
        rows.append({"codec": "ci-icm", "point": q + 1, "bpp": bits / n / NOMINAL_PIXELS, "psnr": psnr(mse / n),
                     "T": t / n})
    return rows


@torch.no_grad()
@torch.no_grad()
def measure_encoder(weights: Path, x_all: torch.Tensor, teacher: Teacher, qualities: list[int],
                    refine_steps: int) -> list[dict]:
    """The tool itself on each picture (its exact runtime, the encoder's latent refinement of ``refine_steps``
    for the XL detector): the stream's substream bits (no parameter set, as VVC's payload), PSNR and T of the
    exactly decoded picture at the coded size."""
    from ...common.layers.exact import from_fixed
    from ...common.models.ci_icm import load_runtime
    from ...encoder.ci_icm_refine import CiIcmRefiner

    runtime = load_runtime(weights)
    refiner = CiIcmRefiner(runtime, teacher.net) if refine_steps else None
    size = runtime.config.input_size
    rows = []
    for quality in qualities:
        q = quality - 1
        bits = mse = t = 0.0
        for i in range(len(x_all)):
            x = x_all[i:i + 1]
            y, z_bytes, hyper = runtime.analyse(x, q)
            if refiner is not None:
                with torch.enable_grad():
                    y, _ = refiner.refine(y, hyper, q, x, refine_steps)
            streams = runtime.code_latent(y, hyper, q)
            x_hat = from_fixed(runtime.decode(z_bytes, streams, q, size, size)).clamp(0, 1)
            x_hat = (x_hat * 255).round() / 255  # the 8-bit picture a decoder outputs (about; exactly below)
            bits += 8 * (len(z_bytes) + sum(len(s) for s in streams))
            mse += (x_hat - x).square().mean().item()
            t += teacher.distortion(x_hat, teacher.raw(x)).item()
        n = len(x_all)
        rows.append({"codec": f"ci-icm refine {refine_steps}", "point": quality, "bpp": bits / n / NOMINAL_PIXELS,
                     "psnr": psnr(mse / n), "T": t / n})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def measure_vvc(x_all: torch.Tensor, teacher: Teacher, qps: list[int], preset: str) -> list[dict]:
    codec = VvcImageRoundTrip(preset=preset)
    rows = []
    pictures = [np.ascontiguousarray((x.permute(1, 2, 0).numpy() * 255).round().clip(0, 255).astype(np.uint8))
                for x in x_all]
    for qp in qps:
        bits = mse = t = 0.0
        for rgb, x in zip(pictures, x_all):
            decoded, b = codec(rgb, qp)
            x8 = torch.from_numpy(rgb).permute(2, 0, 1).float()[None] / 255
            x_hat = torch.from_numpy(decoded).permute(2, 0, 1).float()[None] / 255
            bits += b
            mse += (x_hat - x8).square().mean().item()
            t += teacher.distortion(x_hat, teacher.raw(x8)).item()
        n = len(pictures)
        rows.append({"codec": "vvc", "point": qp, "bpp": bits / n / NOMINAL_PIXELS, "psnr": psnr(mse / n),
                     "T": t / n})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def at_rate(curve: list[dict], bpp: float, key: str) -> float | None:
    """``key`` of a rate curve interpolated linearly in log rate at ``bpp`` (None outside its range)."""
    points = sorted(curve, key=lambda r: r["bpp"])
    rates = [math.log(r["bpp"]) for r in points]
    if not rates[0] <= math.log(bpp) <= rates[-1]:
        return None
    return float(np.interp(math.log(bpp), rates, [r[key] for r in points]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", type=Path, help="a ci-icm training run (folder or ckpt.pt): its float model")
    source.add_argument("--weights", type=Path, help="a ci-icm weights file: the tool's encoder and exact decoder")
    parser.add_argument("--refine-steps", type=int, default=10, help="with --weights: the encoder's refinement")
    parser.add_argument("--qualities", type=int, nargs="+", default=None, help="with --weights (default: all)")
    parser.add_argument("--qps", type=int, nargs="+", default=[32, 37, 42, 47, 50])
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--limit", type=int, default=0, help="first N held-out pictures (0: all)")
    parser.add_argument("--json", type=Path, help="write the rows here too")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    x_all = PictureSet(training_picture_files(), "heldout").whole_views((TASK_SIZE, TASK_SIZE))
    if args.limit:
        x_all = x_all[:args.limit]
    x_all = (x_all * 255).round() / 255  # the 8-bit pictures VVC codes
    teacher = Teacher(TARGET, torch.device("cpu"))
    print(f"{len(x_all)} held-out pictures at {TASK_SIZE}x{TASK_SIZE}", flush=True)
    if args.run:
        ours = measure_ci_icm(load_model(args.run), x_all, teacher)
        for row in ours:
            print(json.dumps(row), flush=True)
    else:
        from ...common.models.ci_icm import load_runtime
        qualities = args.qualities or list(range(1, load_runtime(args.weights).config.qualities + 1))
        ours = measure_encoder(args.weights, x_all, teacher, qualities, args.refine_steps)
    vvc = measure_vvc(x_all, teacher, args.qps, args.preset)
    print(f"\n{'point':>6} {'bpp':>8} {'PSNR':>7} {'T':>8} | VVC at that rate: {'PSNR':>7} {'T':>8}")
    for row in ours:
        p, t = at_rate(vvc, row["bpp"], "psnr"), at_rate(vvc, row["bpp"], "T")
        fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
        print(f"q{row['point']:>5} {row['bpp']:8.4f} {row['psnr']:7.2f} {row['T']:8.2f} | "
              f"{'':>16} {fmt(p, '7.2f')} {fmt(t, '8.2f')}")
    if args.json:
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in ours + vvc))
        tmp.replace(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
