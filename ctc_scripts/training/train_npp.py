"""Train the ``npp-vvc`` neural preprocessor with the real VVC codec in the loop and the proxy's gradients.

    python -m icm.ctc_scripts.training.train_npp train --run out/npp/runs/npp --proxy out/npp/proxy.npz \\
        --steps 3000 --batch 4 --threads 1
    python -m icm.ctc_scripts.training.train_npp export --run out/npp/runs/npp -o out/npp/npp.npz
    # ablations: --no-proxy (identity straight-through), --fixed-model (no QP MLP), --no-task

Each step draws ``--batch`` views of one kind (the kind drawn per step, ``--task-fraction`` of them task views)
and one QP per view (uniform integers ``--qp-min``..``--qp-max``, 22..47: the CTC's image anchor range):

* ``task`` view: a random crop (area 50..100 %) of a training picture resized to 320x320, as ``--resample task``
  codes it; the detector sees it as it is;
* ``full`` view: a ``--full-size`` square crop at the picture's own resolution, as full-size coding codes it;
  the detector sees it at the scale it sees the whole picture (resized by ``320 / longest side``, to a multiple
  of 32), bilinear without antialiasing as the detector's own preprocessing.

Forward and backward (straight-through surrogate): ``x' = NPP(x, qp)``, rounded to 8 bits as the encoder
does (straight-through); the real ``vvc-image`` codec (``npp_pairs.VvcImageRoundTrip``, VVenC ``--preset``,
one thread) gives the decoded picture ``v`` and the payload bits ``b``; the frozen proxy gives ``p`` and
``bits_p``; then ``x_hat = p + sg(v - p)`` and ``R = bits_p + sg(b - bits_p)``: the loss sees the real values,
the gradients are the proxy's. ``--no-proxy``: ``x_hat = x' + sg(v - x')`` and ``R = sg(b)`` (no rate gradient).

Loss per view, averaged: ``R / pixels + 0.5 * MSE(x', x) + lambda(qp) * T(x_hat, x)`` with ``T`` the detector's
label-free distillation distance (``common/models/distill.task_distortion``, the XL detector frozen) and
``lambda(qp) = --task-weight * 2 ** ((37 - qp) / 3)``: the published (QP, lambda) pairs double lambda for every
3 QP down (techniques.md section 2); ``--task-weight`` is the value at QP 37 on our task-distortion scale.
``--no-task`` drops the term. ``--distortion-gradient identity`` keeps the proxy's rate gradient but passes the
task term's gradient straight from the decoded picture to the preprocessed one (``x_hat = x' + sg(v - x')``):
the proxy's reconstruction then cannot be exploited (the second run lowered the proxy's task term while the
real one rose on held-out pictures; docs/npp.md).

Validation (label-free, held-out pictures resized to 320x320, QPs ``--val-qps``): bpp, ``T`` and PSNR of the
NPP + VVC against plain VVC (cached in the run after the first validation), ``J = bpp + lambda(qp) * T`` and
``J_ratio``, the mean over the QPs of ``J / J_vvc`` (below 1: better than plain VVC), and ``bd_rate_T``, the
BD-rate against plain VVC at equal task distortion over the validation QPs (``task_bd_rate``). The model of the
validation with the lowest ``bd_rate_T`` (``J_ratio`` where that is not defined) is kept in the run as
``best.pt`` (a label-free choice on held-out training pictures), and ``export`` writes that one (the last one
when no validation has run).
The log's ``vvc_s``/``npp_s`` are the seconds per step spent in the real codec and in the networks.
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ...common.models.distill import task_distortion
from ..ctc.bd import bd_rate
from ...common.models.npp import NppConfig, NppModel, save_npz
from ...common.tasknet.registry import load_task_network
from .npp_pairs import VvcImageRoundTrip
from .npp_proxy_fidelity import load_proxy
from .pictures import PictureSet, random_patches, to_tensor, training_picture_files
from .skeleton import TrainingRun, main

TASK_SIZE = 320
DETECTOR = "yolo-fastest-1.1-xl"


def task_lambda(qp: torch.Tensor, weight: float) -> torch.Tensor:
    return weight * torch.pow(2.0, (37.0 - qp.float()) / 3.0)


def task_bd_rate(summary: dict) -> float:
    """BD-rate (percent, pchip) of NPP + VVC against plain VVC at equal task distortion, over the validation
    QPs (``-log T`` as the quality: label-free); NaN where the curves do not overlap."""
    points = [summary[key] for key in sorted(summary, key=int)]
    if len(points) < 2:
        return float("nan")
    return bd_rate([p["bpp_vvc"] for p in points], [-math.log(p["task_vvc"]) for p in points],
                   [p["bpp"] for p in points], [-math.log(p["task"]) for p in points])


def quantise_8bit(x: torch.Tensor) -> torch.Tensor:
    """``round(255 x) / 255`` with a straight-through gradient (the encoder codes 8-bit RGB)."""
    return x + (torch.round(x * 255) / 255 - x).detach()


def surrogate(differentiable: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """The real value forward, the gradient of ``differentiable`` backward."""
    return differentiable + (real - differentiable).detach()


def to_rgb8(x: torch.Tensor) -> list[np.ndarray]:
    return [np.ascontiguousarray(v) for v in
            (x.detach() * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()]


def detector_size(picture_shape: tuple[int, int], view: int) -> int:
    """The detector's input side for a native-scale ``view`` square of a picture: the whole picture's scale."""
    scale = TASK_SIZE / max(picture_shape)
    return max(64, int(round(view * scale / 32)) * 32)


def for_detector(x: torch.Tensor, side: int) -> torch.Tensor:
    if x.shape[-1] == side and x.shape[-2] == side:
        return x
    return F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False, antialias=False)


class RealCodec:
    """The real vvc-image codec on a batch: decoded pictures (float tensor) and payload bits (float tensor)."""

    def __init__(self, preset: str, threads: int):
        self.round_trip = VvcImageRoundTrip(preset, threads)

    def __call__(self, x: torch.Tensor, qps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        decoded, bits = [], []
        for rgb, qp in zip(to_rgb8(x), qps.tolist()):
            picture, nbits = self.round_trip(rgb, int(qp))
            decoded.append(to_tensor(picture))
            bits.append(nbits)
        return torch.cat(decoded).to(x.device), torch.tensor(bits, dtype=torch.float32, device=x.device)


class NppRun(TrainingRun):
    name = "npp-vvc"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--proxy", default="out/npp/proxy.npz", help="exported proxy (.npz) or its run folder")
        parser.add_argument("--widths", default="16,32,64,128", help="U-Net widths of the NPP's down stages")
        parser.add_argument("--task-weight", type=float, default=0.02, help="lambda of the task term at QP 37")
        parser.add_argument("--mse-weight", type=float, default=0.5)
        parser.add_argument("--qp-min", type=int, default=22)
        parser.add_argument("--qp-max", type=int, default=47)
        parser.add_argument("--task-fraction", type=float, default=0.5, help="share of steps on task views")
        parser.add_argument("--full-size", type=int, default=384, help="side of the native-scale views")
        parser.add_argument("--preset", default="faster", help="VVenC preset in the loop")
        parser.add_argument("--vvc-threads", type=int, default=1)
        parser.add_argument("--val-qps", default="27,37,47")
        parser.add_argument("--no-proxy", action="store_true", help="ablation: identity straight-through")
        parser.add_argument("--distortion-gradient", choices=("proxy", "identity"), default="proxy",
                            help="the task term's gradient through the proxy, or straight to the NPP output")
        parser.add_argument("--fixed-model", action="store_true", help="ablation: no QP adaptivity (no MLP)")
        parser.add_argument("--no-task", action="store_true", help="ablation: no task term")

    def __init__(self, args: argparse.Namespace):
        super().__init__(args)
        self.codec = RealCodec(args.preset, args.vvc_threads)
        self.proxy = None if args.no_proxy else load_proxy(Path(args.proxy), args.device).requires_grad_(False)
        self.detector = load_task_network(DETECTOR, TASK_SIZE, device=args.device)
        self.pictures = PictureSet(training_picture_files(), "train")
        self.heldout = PictureSet(training_picture_files(), "heldout").whole_views((TASK_SIZE, TASK_SIZE))
        self.val_qps = [int(q) for q in args.val_qps.split(",")]
        self.reference: dict = {}
        self.best: dict = {}  # the held-out-best validation: {"step", "score", "J_ratio", "bd_rate_T"}

    def build_model(self) -> NppModel:
        widths = [int(w) for w in self.args.widths.split(",")]
        return NppModel(NppConfig(widths=widths, qp_adaptive=not self.args.fixed_model))

    # -- views -----------------------------------------------------------------------------------------

    def draw_views(self, rng: np.random.Generator) -> tuple[torch.Tensor, list[int]]:
        """A batch of one kind and the detector's input side for each view."""
        count = self.args.batch
        if rng.random() < self.args.task_fraction:
            return self.pictures.random_views(rng, count, (TASK_SIZE, TASK_SIZE), min_area=0.5), [TASK_SIZE] * count
        views, sides, size = [], [], self.args.full_size
        for _ in range(count):
            rgb = self.pictures.pictures[int(rng.integers(len(self.pictures)))]
            picture = to_tensor(rgb)
            if min(rgb.shape[:2]) < size:
                picture = F.interpolate(picture, scale_factor=size / min(rgb.shape[:2]) + 1e-6, mode="bicubic",
                                        align_corners=False, antialias=True).clamp(0, 1)
            view = random_patches(picture, rng, size)
            views.append(view.flip(-1) if rng.random() < 0.5 else view)
            sides.append(detector_size(rgb.shape[:2], size))
        return torch.cat(views), sides

    # -- the loss --------------------------------------------------------------------------------------

    def code(self, x_pre: torch.Tensor, qps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
        """Real values forward, the proxy's (or identity) gradients backward: (x_hat, bits, codec seconds)."""
        start = time.perf_counter()
        decoded, bits = self.codec(x_pre, qps)
        seconds = time.perf_counter() - start
        if self.proxy is None:
            return surrogate(x_pre, decoded), bits, seconds
        out = self.proxy(x_pre, qps, noise=True)
        through = x_pre if self.args.distortion_gradient == "identity" else out.x_hat
        return surrogate(through, decoded), surrogate(out.bits, bits), seconds

    def task_terms(self, x_hat: torch.Tensor, x: torch.Tensor, sides: list[int]) -> torch.Tensor:
        """``T`` per view."""
        terms = []
        for i, side in enumerate(sides):
            with torch.no_grad():
                reference = self.detector.forward_unsplit(for_detector(x[i:i + 1], side))
            terms.append(task_distortion(self.detector.forward_unsplit(for_detector(x_hat[i:i + 1], side)),
                                         reference))
        return torch.stack(terms)

    def training_loss(self, rng: np.random.Generator) -> tuple[torch.Tensor, dict]:
        start = time.perf_counter()
        x, sides = self.draw_views(rng)
        x = x.to(self.device)
        qps = torch.from_numpy(rng.integers(self.args.qp_min, self.args.qp_max + 1, len(x))).to(self.device)
        x_pre = self.model(x, qps)
        x_hat, bits, codec_s = self.code(quantise_8bit(x_pre), qps)
        bpp = bits / (x.shape[-1] * x.shape[-2])
        mse = ((x_pre - x) ** 2).mean(dim=(1, 2, 3))
        loss = bpp + self.args.mse_weight * mse
        info = {"bpp": float(bpp.detach().mean()), "mse": float(mse.detach().mean()), "vvc_s": round(codec_s, 2)}
        if not self.args.no_task:
            terms = self.task_terms(x_hat, x, sides)
            loss = loss + task_lambda(qps, self.args.task_weight) * terms
            info["task"] = float(terms.detach().mean())
        info["npp_s"] = round(time.perf_counter() - start - codec_s, 2)
        return loss.mean(), info

    # -- validation ------------------------------------------------------------------------------------

    def measure(self, pictures: torch.Tensor, qp: int, preprocess: bool) -> dict[str, np.ndarray]:
        bpp, terms, mse = [], [], []
        for i in range(len(pictures)):
            x = pictures[i:i + 1].to(self.device)
            x_pre = quantise_8bit(self.model(x, qp)) if preprocess else x
            decoded, bits = self.codec(x_pre, torch.tensor([qp]))
            bpp.append(float(bits[0]) / (x.shape[-1] * x.shape[-2]))
            terms.append(float(self.task_terms(decoded, x, [TASK_SIZE])[0]))
            mse.append(float(((decoded - x) ** 2).mean()))
        return {"bpp": np.array(bpp), "task": np.array(terms), "mse": np.array(mse)}

    def validate(self) -> dict:
        summary = {}
        for qp in self.val_qps:
            key = str(qp)
            if key not in self.reference:
                self.reference[key] = {k: v.tolist() for k, v in self.measure(self.heldout, qp, False).items()}
            ref = {k: np.array(v) for k, v in self.reference[key].items()}
            npp = self.measure(self.heldout, qp, True)
            lam = float(task_lambda(torch.tensor(qp), self.args.task_weight))
            summary[key] = {"bpp": round(float(npp["bpp"].mean()), 4), "bpp_vvc": round(float(ref["bpp"].mean()), 4),
                            "task": round(float(npp["task"].mean()), 4),
                            "task_vvc": round(float(ref["task"].mean()), 4),
                            "psnr": round(float(10 * np.log10(1 / npp["mse"].mean())), 2),
                            "psnr_vvc": round(float(10 * np.log10(1 / ref["mse"].mean())), 2),
                            "J": round(float((npp["bpp"] + lam * npp["task"]).mean()), 4),
                            "J_vvc": round(float((ref["bpp"] + lam * ref["task"]).mean()), 4)}
        ratio = float(np.mean([v["J"] / v["J_vvc"] for v in summary.values()]))
        bd = task_bd_rate(summary)
        summary["J_ratio"], summary["bd_rate_T"] = round(ratio, 4), round(bd, 2)
        score = summary["bd_rate_T"] if math.isfinite(summary["bd_rate_T"]) else 100 * (ratio - 1)
        if not self.best or score < self.best["score"]:
            self.best = {"step": self.step, "score": score, "J_ratio": ratio, "bd_rate_T": summary["bd_rate_T"]}
            tmp = self.run_dir / "best.pt.tmp"
            torch.save({"model": self.model.state_dict(), "best": self.best}, tmp)
            tmp.replace(self.run_dir / "best.pt")
        return summary

    def extra_state(self) -> dict:
        return {"reference": self.reference, "best": self.best}

    def load_extra_state(self, state: dict) -> None:
        self.reference = dict(state.get("reference", {}))
        self.best = dict(state.get("best", {}))

    def export(self, output: Path) -> None:
        step, validation = self.step, None
        best_file = self.run_dir / "best.pt"
        if best_file.exists():
            best = torch.load(best_file, map_location="cpu", weights_only=True)
            self.model.load_state_dict(best["model"])
            step = int(best["best"]["step"])
        vals = [entry["val"] for entry in self.log if "val" in entry and entry["val"].get("step") == step]
        save_npz(self.model, output, extra={"step": step, "trained_steps": self.step, "run": self.name,
                                            "args": vars(self.args), "validation": vals[-1] if vals else None})
        print(f"wrote {output} (the model of step {step}, the held-out best; {self.step} steps trained)")


if __name__ == "__main__":
    raise SystemExit(main(NppRun))
