"""Train ``ci-icm``, the channel-importance learned image codec for machines (``common/models/ci_icm.py``).

One variable-rate model serves every quality: each training sample draws a quality ``q`` (uniformly), is
coded with that quality's gains and weighted by that quality's lambda. The recipe
(``ctc_scripts/training/train_ci_icm.sh``) runs, for the main model and for each ablation:

    # stage 1: rate + picture MSE only (no detector; fast)
    python -m icm.ctc_scripts.training.train_ci_icm train --run out/ci_icm/runs/pre --stage pre
    # stage 2: task-aware fine-tuning (the frozen XL detector distilled), started from stage 1
    python -m icm.ctc_scripts.training.train_ci_icm train --run out/ci_icm/runs/main --init out/ci_icm/runs/pre
    # TSCA: one adapter per detector, codec frozen, on whole 320x320 views; the second starts from the first,
    # so that its run holds the codec and both adapters (its export is the shipped file)
    python -m icm.ctc_scripts.training.train_ci_icm train --run out/ci_icm/runs/ad_xl --phase adapter \\
        --task-network yolo-fastest-1.1-xl --init out/ci_icm/runs/main --patch 320 --batch 4
    python -m icm.ctc_scripts.training.train_ci_icm train --run out/ci_icm/runs/ad_yf --phase adapter \\
        --task-network yolo-fastest-1.1 --init out/ci_icm/runs/ad_xl --patch 320 --batch 4

Loss per sample (rates in bits per nominal 640x480 picture, about the CTC's bpp of a COCO photo; a training
patch's bits are scaled by its area to those of the whole 320x320 picture):

    w_q * [ R + lambda_q * (D + w_trunc * D_trunc) ] + w_order * L_order
    D = w_mse * MSE(x^, x) + alpha * T(x^, x)

* ``T`` is ``task_distortion`` (``common/models/distill.py``) between the frozen XL detector's raw head outputs
  on the decoded and on the original picture, the gradient flowing through the frozen detector to the decoded
  picture. It is not scaled by area: measured on the same degraded views, a 192x192 patch's ``T`` is about a
  whole 320x320 view's (12.7 against 10.4 for noise of std 0.05), not 36 % of it. Stage 1 has ``D = MSE``.
* ``D_trunc`` is the picture MSE (times ``w_mse`` in stage 2, as in ``D``) of a decode of only the first ``k``
  groups (``k`` uniform in 1..G-1, the others at their predicted means) on the first ``--trunc-batch`` samples:
  nested truncation, so that every prefix of groups is a usable picture. (With the task term in ``D_trunc``
  too, the first 600 steps of stage 2 made the held-out task distortion of the full decode worse: a decode of
  8 channels cannot match the detector, and at lambda 450 its term outweighed the full decode's.)
* ``L_order`` is the channel-order loss on the running channel-importance estimate (CIG,
  ``common/models/channel_groups.py``); the importance vector is logged at every validation (``importance``
  in the log and ``importance.json`` in the run folder: importance against channel index).
* Weights: ``w_mse`` 1 and ``alpha`` 5e-5 make the task term about half of ``D`` at the high qualities (``T``
  about 90, MSE about 0.004 after stage 1) and more at the low ones. A task-dominated ``D`` (``w_mse`` 0.25,
  ``alpha`` 1.5e-4) lowered ``T`` at the lowest quality but raised it at the high ones within 200 steps, on
  training views too, with more bits and 2.5 dB less PSNR: at lambda 450 the detector's gradient drove the
  picture in directions that do not generalise.
* ``w_q = (lambda_mid / lambda_q) ** balance`` evens out the gradient sizes of the qualities (the optimum of
  each sample's objective is unchanged).

Phases and ablations: ``--baseline`` (one group, one gain per quality, no order loss, no context: the
hyperprior baseline); ``--no-order``, ``--no-group-gains``, ``--no-ctx``; ``--phase adapter --task-network
NAME --init RUN`` trains that detector's TSCA adapter with everything else frozen (RUN: the main run, or the
run of another adapter, whose adapters are kept) (its loss ``alpha * T
+ w_mse * MSE`` of the adapted picture against the original under that detector; the TSCA ablation is a
decode without adapter). Validation, every ``--val-every`` steps: per quality on the held-out training
pictures (whole, 320x320; never coco-val-dev): bpp, PSNR of the plain picture, ``T`` (XL detector) of the
plain picture, and of the adapted picture in the adapter phase; label-free.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ...common.fileio import write_json_atomically
from ...common.models.channel_groups import ChannelImportance
from ...common.models.ci_icm import NOMINAL_PIXELS, CiIcmConfig, CiIcmModel, complexity
from ...common.models.distill import task_distortion
from ...common.tasknet.registry import load_task_network
from .pictures import PictureSet, random_patches, training_picture_files
from .skeleton import TrainingRun, load_checkpoint, main

TASK_SIZE = 320
DEFAULT_LAMBDAS = (2.0, 6.0, 18.0, 50.0, 150.0, 450.0)
TARGET = "yolo-fastest-1.1-xl"


def config_from_args(args: argparse.Namespace) -> CiIcmConfig:
    if args.baseline:
        groups, group_gains, context = (args.latent,), False, False
    else:
        groups, group_gains, context = tuple(args.groups), not args.no_group_gains, not args.no_ctx
    variant = "baseline" if args.baseline else "ci-icm" + "".join(
        f"-{name}" for name, off in (("noorder", args.no_order), ("nogain", args.no_group_gains),
                                     ("noctx", args.no_ctx)) if off)
    return CiIcmConfig(variant=variant, latent_channels=args.latent, groups=groups, hyper_channels=args.hyper,
                       analysis_widths=tuple(args.analysis_widths), synthesis_widths=tuple(args.synthesis_widths),
                       qualities=len(args.lambdas), group_gains=group_gains, context=context)


class Teacher:
    """A frozen detector: raw head outputs of a picture batch (any size that is a multiple of 32)."""

    def __init__(self, name: str, device: torch.device):
        network = load_task_network(name, input_size=TASK_SIZE, device=device)
        self.net = network.net.eval().requires_grad_(False)

    def raw(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.net(x)

    def distortion(self, x_hat: torch.Tensor, raw_ref: list[torch.Tensor], per_picture: bool = False) -> torch.Tensor:
        """``task_distortion`` per picture or patch (not scaled by area: see the module docstring); the batch
        mean, or one value per picture."""
        return task_distortion(self.raw(x_hat), raw_ref, per_picture=per_picture)


def psnr(mse: float) -> float:
    return 10 * math.log10(1.0 / max(mse, 1e-12))


class CiIcmRun(TrainingRun):
    name = "ci-icm"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        a = parser.add_argument
        a("--stage", choices=("pre", "task"), default="task", help="pre: rate + MSE only; task: with the detector")
        a("--phase", choices=("codec", "adapter"), default="codec", help="adapter: train one TSCA adapter")
        a("--task-network", default=TARGET, help="adapter phase: the detector whose adapter is trained")
        a("--lambdas", type=float, nargs="+", default=list(DEFAULT_LAMBDAS), help="one per quality, ascending")
        a("--balance", type=float, default=0.25, help="per-quality loss weight exponent (see the docstring)")
        a("--w-mse", type=float, default=1.0, help="task stage: weight of the picture MSE in D")
        a("--alpha", type=float, default=5e-5, help="task stage: weight of the task term T in D")
        a("--w-trunc", type=float, default=0.5, help="weight of the truncated decode's distortion")
        a("--trunc-batch", type=int, default=2, help="samples of a batch also decoded truncated")
        a("--w-order", type=float, default=0.003, help="weight of the channel-order loss")
        a("--rate-warmup", type=int, default=0, help="steps over which the rate weight ramps up")
        a("--patch", type=int, default=192, help="training patch (multiple of 64) cut from 320x320 views")
        a("--baseline", action="store_true", help="one group, one gain per quality, no order loss, no context")
        a("--no-order", action="store_true", help="ablation: no channel-order loss")
        a("--no-group-gains", action="store_true", help="ablation: one gain per quality for all groups")
        a("--no-ctx", action="store_true", help="ablation: entropy parameters from the hyper features only")
        a("--latent", type=int, default=128)
        a("--groups", type=int, nargs="+", default=[8, 8, 16, 32, 64])
        a("--hyper", type=int, default=64)
        a("--analysis-widths", type=int, nargs=3, default=[96, 128, 160])
        a("--synthesis-widths", type=int, nargs=4, default=[192, 160, 128, 64])

    # -- model
    def build_model(self) -> CiIcmModel:
        args = self.args
        self.config = config_from_args(args)
        if args.phase == "adapter":
            self.config = self._config_of_init() or self.config
        model = CiIcmModel(self.config)
        if args.phase == "adapter":
            from ...common.models.ci_icm import adapter_key
            model.requires_grad_(False)
            model.adapters[adapter_key(args.task_network)].requires_grad_(True)
        c = self.config.latent_channels
        self.importance = ChannelImportance(c, device=self.device)
        self.lambdas = torch.tensor(args.lambdas, dtype=torch.float32)
        mid = float(np.exp(np.mean(np.log(args.lambdas))))
        self.weights = (mid / self.lambdas) ** args.balance
        self._pictures = self._heldout = None
        self._teachers: dict[str, Teacher] = {}
        print("ci-icm", json.dumps(self.config.to_dict()), "kMAC/px", json.dumps(complexity(self.config)),
              flush=True)
        return model

    def _config_of_init(self) -> CiIcmConfig | None:
        if not self.args.init:
            return None
        path = Path(self.args.init)
        state = load_checkpoint(path / "ckpt.pt" if path.is_dir() else path)
        values = state.get("extra", {}).get("config")
        return CiIcmConfig.from_dict(json.loads(values)) if values else None

    def extra_state(self) -> dict:
        return {"config": json.dumps(self.config.to_dict()), "importance": self.importance.state()}

    def load_extra_state(self, state: dict) -> None:
        if "importance" in state:
            self.importance.load_state(state["importance"])

    # -- data (loaded on first use, so export does not read pictures)
    def pictures(self) -> PictureSet:
        if self._pictures is None:
            self._pictures = PictureSet(training_picture_files(), "train")
        return self._pictures

    def heldout(self) -> torch.Tensor:
        if self._heldout is None:
            self._heldout = PictureSet(training_picture_files(), "heldout").whole_views((TASK_SIZE, TASK_SIZE))
        return self._heldout

    def teacher(self, name: str = TARGET) -> Teacher:
        if name not in self._teachers:
            self._teachers[name] = Teacher(name, self.device)
        return self._teachers[name]

    def batch(self, rng: np.random.Generator) -> torch.Tensor:
        x = self.pictures().random_views(rng, self.args.batch, (TASK_SIZE, TASK_SIZE))
        if self.args.patch and self.args.patch < TASK_SIZE:
            x = random_patches(x, rng, self.args.patch)
        return x.to(self.device)

    # -- loss
    @staticmethod
    def patch_scale(x: torch.Tensor) -> float:
        """Area of a 320x320 picture over the batch's: rates are per 320x320 picture."""
        return TASK_SIZE * TASK_SIZE / (x.shape[-2] * x.shape[-1])

    def distortion(self, x_hat: torch.Tensor, x: torch.Tensor, raw_ref) -> tuple[torch.Tensor, torch.Tensor,
                                                                                   torch.Tensor]:
        """Per-sample (D, MSE, T). ``raw_ref`` None: stage 1, D = MSE."""
        mse = (x_hat - x).square().mean(dim=(1, 2, 3))
        if raw_ref is None:
            return mse, mse, torch.zeros_like(mse)
        t = self._per_sample_task(x_hat, raw_ref)
        return self.args.w_mse * mse + self.args.alpha * t, mse, t

    def _per_sample_task(self, x_hat: torch.Tensor, raw_ref) -> torch.Tensor:
        """T per sample in one detector pass (task_distortion averages over the batch: sum per sample)."""
        raw_hat = self.teacher().raw(x_hat)
        return torch.stack([task_distortion([h[i:i + 1] for h in raw_hat], [r[i:i + 1] for r in raw_ref])
                            for i in range(len(x_hat))])

    def training_loss(self, rng: np.random.Generator):
        if self.args.phase == "adapter":
            return self.adapter_loss(rng)
        args = self.args
        x = self.batch(rng)
        n = len(x)
        quality = torch.as_tensor(rng.integers(0, len(args.lambdas), n), device=self.device)
        groups = len(self.config.groups)
        truncate = int(rng.integers(1, groups)) if (groups > 1 and args.w_trunc > 0) else None
        out = self.model(x, quality, noise=True, truncate=truncate)
        out["y_hat"].retain_grad()
        self._last_y_hat = out["y_hat"]
        task = args.stage == "task"
        raw_ref = None
        if task:
            with torch.no_grad():
                raw_ref = self.teacher().raw(x)
        d, mse, t = self.distortion(out["x_hat"], x, raw_ref)
        lam = self.lambdas.to(self.device)[quality]
        weight = self.weights.to(self.device)[quality]
        ramp = min(1.0, (self.step + 1) / args.rate_warmup) if args.rate_warmup else 1.0
        rate = out["bits"] / NOMINAL_PIXELS * self.patch_scale(x)
        per_sample = ramp * rate + lam * d
        info = {"bpp": rate.mean().item(), "mse": mse.mean().item(), "psnr": psnr(mse.mean().item()),
                "T": t.mean().item()}
        if "x_trunc" in out:
            # the truncated decode is judged by its MSE only (weighted as in D): a detector term on a decode of
            # a few groups is large at the high lambdas and pulled the full decode away from the task
            m = min(args.trunc_batch, n)
            mse_t = (out["x_trunc"][:m] - x[:m]).square().mean(dim=(1, 2, 3))
            d_t = mse_t * (args.w_mse if task else 1.0)
            per_sample = per_sample + torch.cat([args.w_trunc * lam[:m] * d_t, torch.zeros_like(lam[m:])])
            info.update(trunc_k=truncate, trunc_psnr=psnr(mse_t.mean().item()))
        loss = (weight * per_sample).sum() / weight.sum()
        if args.w_order > 0 and not args.no_order and not args.baseline and groups > 1:
            imp = self.importance.importance(out["y_hat"], out["coding"].mean_latent())
            order = ChannelImportance.order_loss(imp)
            loss = loss + args.w_order * order
            info["order"] = order.item()
        info["bpp_z"] = (out["bits_z"] / NOMINAL_PIXELS * self.patch_scale(x)).mean().item()
        return loss, info

    def after_step(self) -> None:
        y_hat = getattr(self, "_last_y_hat", None)
        if y_hat is not None:
            self.importance.update(y_hat.grad)
            self._last_y_hat = None

    def adapter_loss(self, rng: np.random.Generator):
        """TSCA phase: the codec (frozen, rounding as at decode) gives the feature map and plain picture; the
        adapter of ``--task-network`` is trained on the codec's distortion term under that detector,
        ``w_q * lambda_q * (alpha * T + w_mse * MSE)`` per sample (normalised to a mean weight of 1), the
        recipe with a smaller ``w_mse`` than the codec's (the adapted picture is for the detector alone). With
        equal weights the low qualities' large ``T`` dominated, and the adapter made the high qualities'
        pictures worse on held-out pictures (``T`` 13.7 against 10.8 plain at quality 5)."""
        args = self.args
        x = self.batch(rng)
        quality = torch.as_tensor(rng.integers(0, len(args.lambdas), len(x)), device=self.device)
        teacher = self.teacher(args.task_network)
        with torch.no_grad():
            self.model.eval()
            out = self.model(x, quality, noise=False)
            raw_ref = teacher.raw(x)
        adapted = self.model.adapt(out["f"], out["x_hat"], args.task_network)
        t = teacher.distortion(adapted, raw_ref, per_picture=True)
        mse = ((adapted - x) ** 2).flatten(1).mean(1)
        per_quality = self.weights * self.lambdas
        weight = (per_quality / per_quality.mean()).to(self.device)[quality]
        loss = (weight * (args.alpha * t + args.w_mse * mse)).mean()
        with torch.no_grad():
            t_plain = teacher.distortion(out["x_hat"], raw_ref)
        return loss, {"T": t.mean().item(), "T_plain": t_plain.item(), "psnr": psnr(mse.mean().item())}

    # -- validation
    @torch.no_grad()
    def validate(self) -> dict:
        x_all = self.heldout().to(self.device)
        teacher = self.teacher(TARGET)
        other = self.teacher(self.args.task_network) if self.args.phase == "adapter" else None
        result = {}
        for q in range(len(self.args.lambdas)):
            sums = {"bpp": 0.0, "mse": 0.0, "T": 0.0}
            if other is not None:
                sums.update(T_plain_net=0.0, T_adapted=0.0)
            for start in range(0, len(x_all), 8):
                x = x_all[start:start + 8]
                quality = torch.full((len(x),), q, device=self.device, dtype=torch.long)
                out = self.model(x, quality, noise=False)
                raw_ref = teacher.raw(x)
                sums["bpp"] += (out["bits"] / NOMINAL_PIXELS).sum().item()
                sums["mse"] += (out["x_hat"] - x).square().mean(dim=(1, 2, 3)).sum().item()
                sums["T"] += teacher.distortion(out["x_hat"], raw_ref).item() * len(x)
                if other is not None:
                    ref_o = other.raw(x)
                    sums["T_plain_net"] += other.distortion(out["x_hat"], ref_o).item() * len(x)
                    adapted = self.model.adapt(out["f"], out["x_hat"], self.args.task_network)
                    sums["T_adapted"] += other.distortion(adapted, ref_o).item() * len(x)
            figures = {k: v / len(x_all) for k, v in sums.items()}
            figures["psnr"] = psnr(figures.pop("mse"))
            result[f"q{q + 1}"] = {k: round(v, 4) for k, v in figures.items()}
        gains = self.model.gains().detach().cpu()
        result["gains"] = [[round(float(g), 3) for g in row] for row in gains]
        result["hyper_gains"] = [round(float(g), 3) for g in self.model.hyper_gains().detach().cpu()]
        result["importance"] = self.importance_vector()
        write_json_atomically(self.run_dir / "importance.json", {"step": self.step, "importance": result["importance"]})
        return result

    def importance_vector(self, count: int = 16) -> list[float]:
        """The importance estimate per channel on held-out pictures (mid quality): sensitivity times the mean
        deviation of the decoded latent from its predicted mean."""
        x = self.heldout()[:count].to(self.device)
        q = torch.full((len(x),), len(self.args.lambdas) // 2, device=self.device, dtype=torch.long)
        out = self.model(x, q, noise=False)
        imp = self.importance.importance(out["y_hat"], out["coding"].mean_latent())
        return [round(float(v), 6) for v in imp.cpu()]

    def export(self, output: Path) -> None:
        from ...common.models.ci_icm import export_runtime  # written after the first training run

        args = self.args  # the training values the encoder's latent refinement reads (encoder/ci_icm_refine.py)
        weights = export_runtime(self.model.cpu(), extra={"steps": self.step, "lambdas": list(args.lambdas),
                                                          "w_mse": args.w_mse, "alpha": args.alpha,
                                                          "stage": args.stage, "phase": args.phase})
        np.savez(output, **weights)
        print(f"wrote {output}")


if __name__ == "__main__":
    raise SystemExit(main(CiIcmRun))
