"""Train the ``mfc`` feature codec with the task network frozen.

    # once: the feature bank (NN part 1 on augmented training pictures; see mfc_bank.py)
    python -m icm.ctc_scripts.training.mfc_bank -o out/mfc/bank.pt
    # stage 1: pre-train the transforms on feature MSE (no NN part 2; fast)
    python -m icm.ctc_scripts.training.train_mfc train --run out/mfc/runs/pre --mse-only --lmbda 5 --steps 1500
    # stage 2: one model per rate point (lambda), task-aware, started from stage 1 or a neighbouring point
    python -m icm.ctc_scripts.training.train_mfc train --run out/mfc/runs/q2 --init out/mfc/runs/pre --lmbda 0.001
    # freeze (exact integer decoder graphs, integer tables) into the weights file the tool loads
    python -m icm.ctc_scripts.training.train_mfc export --run out/mfc/runs/q2 -o common/models/weights/mfc_q2.pt
    # label-free bpp and task fidelity of weights files on the bank's held-out training pictures (for choices)
    ICM_MFC_WEIGHTS=out/mfc/high/weights python -m icm.ctc_scripts.training.train_mfc heldout --qualities 6 7 8

The loop, the learning-rate schedule, checkpoints and resuming (the same command again), ``--init``,
``--device cuda`` and the ``export`` command come from the shared training skeleton (``skeleton.py``);
``ctc_scripts/training/train_mfc.sh`` is the recipe of the shipped models.

Loss per batch (rates in bits per nominal 640x480 picture, i.e. bpp of a COCO photo):

    R + lambda * (D + w_trunc * w_feat * D_trunc) + w_order * L_order
    D = w_feat * (MSE(s16^, s16) / var(s16) + MSE(s32^, s32) / var(s32)) + alpha * T

``T`` (task-aware term) distils the detector's raw head outputs on the original features into those on the
decoded ones, gradients flowing through the frozen NN part 2: per cell and anchor, the Bernoulli KL of the
objectness, the class KLs weighted by the original's objectness, and the box offsets' squared error weighted
the same way, summed over the picture. ``D_trunc`` is the coded tensors' MSE for a decode that receives only
the first k groups (k uniform in 1..G-1; the other groups take their predicted means), which makes the channel
order meaningful (nested truncation). ``L_order`` is the channel-order loss on the channel-importance estimate
(CIG): importance_c = sensitivity_c * E|y^_c - mu_c|, with sensitivity_c a running mean of |dLoss/dy^_c| (a
first-order estimate of how much the loss grows when channel c is not decoded and takes its prediction mu_c);
L_order = sum_c relu(imp_{c+1} - imp_c) / sum_c imp_c. Stage 1 (``--mse-only``) uses D = the coded tensors'
NMSE + w_pred * the predicted tensor's.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ...common.models.mfc import (NOMINAL_PIXELS, CodecConfig, MfcConfig, MfcModel, PredictionConfig,
                                 build_predictor, export_runtime)
from ...common.models.distill import task_distortion
from ...common.tasknet.registry import load_task_network
from .skeleton import TrainingRun, main, run_from_checkpoint

VARIANTS = ("mfc", "mfcr", "noxs", "nogroup", "s16base", "s16hi")


# -- data ------------------------------------------------------------------------------------------------


class Bank:
    """The feature bank, split into training and validation pictures (one picture in ten), with the
    frozen task network's outputs on it (s32 and the raw head outputs, float16), computed once and cached
    beside the bank (``<bank>.teacher.pt``)."""

    def __init__(self, path: Path, device: torch.device, teacher: "Teacher"):
        bank = torch.load(path, map_location="cpu", weights_only=True)
        self.s16 = bank["s16"]
        picture = bank["picture"].numpy()
        val = (picture % 10) == 9
        self.train = np.flatnonzero(~val)
        self.val = np.flatnonzero(val)
        self.device = device
        cache = path.with_suffix(".teacher.pt")
        if cache.exists():
            outputs = torch.load(cache, map_location="cpu", weights_only=True)
        else:
            outputs = self._teacher_outputs(teacher)
            torch.save(outputs, cache)
        self.s32, self.raw = outputs["s32"], outputs["raw"]

    def _teacher_outputs(self, teacher: "Teacher") -> dict:
        s32, raw = [], [[], []]
        with torch.no_grad():
            for start in range(0, len(self.s16), 64):
                x = self.s16[start:start + 64].to(self.device, torch.float32)
                y = teacher.s32(x)
                s32.append(y.cpu().to(torch.float16))
                for i, r in enumerate(teacher.raw(x, y)):
                    raw[i].append(r.cpu().to(torch.float16))
        return {"s32": torch.cat(s32), "raw": [torch.cat(r) for r in raw]}

    def batch(self, indexes) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        index = torch.as_tensor(indexes)
        get = lambda t: t[index].to(self.device, torch.float32)  # noqa: E731
        return get(self.s16), get(self.s32), [get(r) for r in self.raw]


class Teacher:
    """The frozen task network: s32 from s16 (darknet layers 81..108) and the raw head outputs."""

    def __init__(self, network):
        self.network = network
        self.net = network.net
        self.split = network.split_after
        self.s16_layer, self.s32_layer = network.split_layers

    def s32(self, s16: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            cache = self.net.run({self.s16_layer: s16}, self.s16_layer + 1, self.split + 1, keep={self.split})
        return cache[self.s32_layer]

    def raw(self, s16: torch.Tensor, s32: torch.Tensor) -> list[torch.Tensor]:
        cache = {self.s16_layer: s16, self.s32_layer: s32}
        cache = self.net.run(cache, self.split + 1, len(self.net.layers), keep=set(self.net.output_indices))
        return [cache[i] for i in self.net.output_indices]


# -- model configurations ----------------------------------------------------------------------------------


def make_config(variant: str, latent: int, groups: list[int], width: int, side: bool = True,
                pred_width: int = 64, res_latent: int = 32, res_groups=(4, 8, 20),
                linear_skip: bool = False) -> MfcConfig:
    """``mfc``: s32 coded (its analysis also sees s16), s16 predicted from the decoded s32 by a learned
    network; ``mfcr``: the same plus a coded residual of s16 (a second BFC, ``res_latent`` channels at 10x10
    in ``res_groups``); ``nogroup``: ``mfc`` with one group; ``noxs``: s32 and s16 each coded by its own BFC,
    no cross-scale prediction or side input; ``s16base``: s16 coded, s32 predicted by darknet layers 81..108;
    ``s16hi`` (the rate points above quality 5, docs/mfc.md "Higher rate points"): s16 coded by its own BFC at
    its full 20x20 resolution (``down`` 1, no side input: s32 is a function of s16), s32 predicted from the
    decoded s16 by the task network's own layers 81..108 (fixed; the weights file names them)."""
    groups = (latent,) if variant == "nogroup" else tuple(groups)
    if variant in ("mfc", "mfcr", "nogroup"):
        s32 = CodecConfig(tensor_id=1, in_channels=96, latent_channels=latent, groups=groups, width=width, down=1,
                          side_tensor=0 if side else -1, side_channels=48 if side else 0, side_stride=2)
        codecs = [s32]
        if variant == "mfcr":
            codecs.append(CodecConfig(tensor_id=0, in_channels=48, latent_channels=res_latent,
                                      groups=tuple(res_groups), width=width, down=2, residual=True))
        return MfcConfig(variant=variant, codecs=codecs,
                         prediction=PredictionConfig(source=1, target=0, kind="learned", width=pred_width))
    if variant == "noxs":
        s32 = CodecConfig(tensor_id=1, in_channels=96, latent_channels=latent, groups=groups, width=width, down=1)
        s16 = CodecConfig(tensor_id=0, in_channels=48, latent_channels=latent, groups=groups, width=width, down=2)
        return MfcConfig(variant=variant, codecs=[s32, s16], prediction=None)
    if variant == "s16base":
        s16 = CodecConfig(tensor_id=0, in_channels=48, latent_channels=latent, groups=groups, width=width, down=2,
                          side_tensor=1 if side else -1, side_channels=96 if side else 0, side_stride=1)
        return MfcConfig(variant=variant, codecs=[s16], prediction=PredictionConfig(source=0, target=1,
                                                                                    kind="darknet"))
    if variant == "s16hi":
        s16 = CodecConfig(tensor_id=0, in_channels=48, latent_channels=latent, groups=groups, width=width, down=1,
                          linear_skip=linear_skip)
        return MfcConfig(variant=variant, codecs=[s16], prediction=PredictionConfig(source=0, target=1,
                                                                                    kind="darknet"))
    raise ValueError(f"unknown variant {variant}")


def build_model(config: MfcConfig, network) -> MfcModel:
    return MfcModel(config, build_predictor(config, network))


# -- training ----------------------------------------------------------------------------------------------


class MfcRun(TrainingRun):
    """One mfc training run on the shared skeleton (loop, schedule, checkpoints, resume, export command)."""

    name = "mfc"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.set_defaults(save_every=250)
        parser.add_argument("--bank", default="out/mfc/bank.pt")
        parser.add_argument("--variant", choices=VARIANTS, default="mfc")
        parser.add_argument("--lmbda", type=float, required=True)
        parser.add_argument("--alpha", type=float, default=1.0, help="weight of the task (distillation) term")
        parser.add_argument("--w-feat", type=float, default=2.0, help="weight of the feature MSE terms")
        parser.add_argument("--rate-warmup", type=int, default=200, help="steps over which the rate weight ramps up")
        parser.add_argument("--mse-only", action="store_true",
                            help="pre-training: D = feature MSE of the coded tensors only (no predictor, "
                                 "no NN part 2)")
        parser.add_argument("--w-trunc", type=float, default=0.5, help="weight of the truncated-decode distortion")
        parser.add_argument("--w-order", type=float, default=0.002, help="weight of the channel-order loss")
        parser.add_argument("--latent", type=int, default=64)
        parser.add_argument("--groups", type=int, nargs="+", default=[4, 8, 16, 36])
        parser.add_argument("--width", type=int, default=64)
        parser.add_argument("--res-latent", type=int, default=32,
                            help="mfcr: latent channels of the s16 residual codec")
        parser.add_argument("--res-groups", type=int, nargs="+", default=[4, 8, 20], help="mfcr: its group sizes")
        parser.add_argument("--train-predictor", action="store_true",
                            help="s16base, s16hi: fine-tune the darknet predictor too")
        parser.add_argument("--no-side-input", action="store_true", help="the analysis sees only the coded tensor")
        parser.add_argument("--pred-width", type=int, default=64, help="width of the learned prediction network")
        parser.add_argument("--linear-skip", action="store_true",
                            help="s16hi: a 1x1 conv from the input added to g_a's and g_s's outputs")
        parser.add_argument("--w-pred", type=float, default=0.5,
                            help="pre-training: weight of the predicted tensor's MSE")

    def build_model(self) -> MfcModel:
        args = self.args
        self.network = load_task_network("yolo-fastest-1.1-xl", input_size=320, device=self.device)
        self.teacher = Teacher(self.network)
        self.config = make_config(args.variant, args.latent, args.groups, args.width, not args.no_side_input,
                                  args.pred_width, args.res_latent, args.res_groups,
                                  getattr(args, "linear_skip", False))
        model = build_model(self.config, self.network)
        if model.predictor is not None and self.config.prediction.kind == "darknet":
            model.predictor.requires_grad_(args.train_predictor)
        self.sensitivity = {c.tensor_id: torch.ones(c.latent_channels, device=self.device)
                            for c in self.config.codecs}
        self._bank = None
        self._last_out = None
        return model

    @property
    def bank(self) -> Bank:
        """The feature bank, loaded on first use (``export`` does not need it)."""
        if self._bank is None:
            self._bank = Bank(Path(self.args.bank), self.device, self.teacher)
            s16, s32, _ = self._bank.batch(self._bank.train[:256])
            self.var16, self.var32 = float(s16.var()), float(s32.var())
        return self._bank

    def aux_loss(self) -> torch.Tensor:
        return sum(c.prior.loss() for c in self.model.codecs)

    def extra_state(self) -> dict:
        return {"sensitivity": {str(k): v for k, v in self.sensitivity.items()}}

    def load_extra_state(self, state: dict) -> None:
        """The channel sensitivities; on ``--init`` from another structure, those whose shapes fit."""
        for key, value in state.get("sensitivity", {}).items():
            tid = int(key)
            if tid in self.sensitivity and value.shape == self.sensitivity[tid].shape:
                self.sensitivity[tid] = value.to(self.device)

    # -- loss
    def nmse(self, tensor_id: int, hat: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(hat, ref) / (self.var16 if tensor_id == 0 else self.var32)

    def training_loss(self, rng: np.random.Generator):
        bank = self.bank
        total, info, self._last_out = self.loss(bank.batch(rng.choice(bank.train, self.args.batch, replace=False)),
                                                rng)
        return total, info

    def loss(self, batch, rng: np.random.Generator, train: bool = True):
        args = self.args
        s16, s32, raw_ref = batch
        tensors = [s16, s32]
        groups = len(self.config.codecs[0].groups)
        truncate = int(rng.integers(1, groups)) if (train and groups > 1 and args.w_trunc > 0) else None
        prediction = self.config.prediction
        learned = prediction is not None and prediction.kind == "learned"
        out = self.model(tensors, truncate=truncate, noise=train, predict_truncated=False,
                         run_predictor=learned or not args.mse_only)
        hats = out["hats"]
        bpp = out["bits"].mean() / NOMINAL_PIXELS
        d = {tid: self.nmse(tid, hat, tensors[tid]) for tid, hat in hats.items() if hat is not None}
        if args.mse_only:  # pre-training: feature MSE only (no NN part 2)
            dist = sum(v * (args.w_pred if prediction and tid == prediction.target else 1.0) for tid, v in d.items())
            task = torch.zeros(())
        else:
            task = task_distortion(self.teacher.raw(hats[0], hats[1]), raw_ref)
            dist = args.w_feat * sum(d.values()) + args.alpha * task
        ramp = min(1.0, (self.step + 1) / args.rate_warmup) if (train and args.rate_warmup) else 1.0
        total = ramp * bpp + args.lmbda * dist
        info = {"bpp": bpp.item(), "d16": d.get(0, torch.zeros(())).item(), "d32": d.get(1, torch.zeros(())).item(),
                "task": task.item()}
        if truncate is not None:
            # a decode of the first k groups, judged by the coded tensors' MSE (no predictor, no NN part 2)
            dist_t = sum(self.nmse(tid, hat, tensors[tid]) for tid, hat in out["trunc"].items())
            total = total + args.lmbda * args.w_trunc * (1.0 if args.mse_only else args.w_feat) * dist_t
            info["trunc"] = dist_t.item()
        if train:
            for codec_out in out["codec"].values():
                codec_out["y_hat"].retain_grad()
        if train and args.w_order > 0 and groups > 1:
            order = 0.0
            for tid, codec_out in out["codec"].items():
                gains = self.model.codecs[[c.config.tensor_id for c in self.model.codecs].index(tid)].gains()
                mu = torch.cat([m / gains[g] for g, m in enumerate(codec_out["means"])], 1)
                deviation = (codec_out["y_hat"] - mu).abs().mean(dim=(0, 2, 3))
                importance = self.sensitivity[tid] * deviation
                order = order + F.relu(importance[1:] - importance[:-1]).sum() / (importance.sum() + 1e-9)
            total = total + args.w_order * order
            info["order"] = order.item()
        return total, info, out

    def after_step(self) -> None:
        """The channel sensitivities: a running mean of |dLoss/dy^_c|, normalised to mean 1."""
        for tid, codec_out in self._last_out["codec"].items():
            grad = codec_out["y_hat"].grad
            if grad is not None:
                value = grad.abs().mean(dim=(0, 2, 3)).detach()
                value = value / (value.mean() + 1e-12)
                self.sensitivity[tid] = 0.95 * self.sensitivity[tid] + 0.05 * value
        self._last_out = None

    def validate(self, count: int = 256) -> dict:
        bank = self.bank
        indexes = bank.val[:count]
        if not len(indexes):
            return {}
        sums: dict = {}
        for i in range(0, len(indexes), 32):
            _, info, _ = self.loss(bank.batch(indexes[i:i + 32]), self.rng, train=False)
            for k, v in info.items():
                sums[k] = sums.get(k, 0.0) + v * len(indexes[i:i + 32])
        return {k: round(v / len(indexes), 5) for k, v in sums.items()}

    def export(self, output: Path) -> dict:
        """Freeze the run into the runtime weights file (exact integer decoder graphs, integer tables)."""
        args = self.args
        info = {"lambda": args.lmbda, "alpha": args.alpha, "steps": self.step, "variant": self.config.variant,
                "train_predictor": args.train_predictor,
                "sensitivity": {str(k): [round(float(x), 4) for x in v] for k, v in self.sensitivity.items()}}
        self.model.cpu()
        weights = export_runtime(self.model, info)
        output.parent.mkdir(parents=True, exist_ok=True)
        torch.save(weights, output)
        print(f"wrote {output} ({output.stat().st_size} bytes)")
        return weights


def export(run: Path, output: Path, device: str = "cpu") -> dict:
    """The runtime weights file of the run in folder ``run``."""
    return run_from_checkpoint(MfcRun, run, device).export(output)


# -- label-free choice on held-out training pictures ------------------------------------------------------


def heldout_pictures(bank_path: Path, limit: int = 0) -> list[Path]:
    """The bank's held-out pictures (picture index % 10 == 9, as :class:`Bank`'s validation split), as files of
    the training sets (``mfc_bank.training_pictures``); ``limit``: the first N only (0: all)."""
    from .mfc_bank import training_pictures

    bank = torch.load(bank_path, map_location="cpu", weights_only=True)
    names = bank["files"]
    held = sorted({int(i) for i in bank["picture"].tolist() if int(i) % 10 == 9})
    by_name = {p.name: p for p in training_pictures()}
    paths = [by_name[names[i]] for i in held if names[i] in by_name]
    return paths[:limit or None]


def heldout(qualities, bank_path: Path, model: str = "mfc", refine_steps: int | None = None, limit: int = 0,
            threshold: float = 0.5) -> list[dict]:
    """bpp and task fidelity (mAP@[.5:.95] of the detections on the decoded features against those with a score
    of at least ``threshold`` on the original: no labels) of the weights files of ``qualities`` (``ICM_MFC_WEIGHTS``
    first), through the real encoder and decoder, on the bank's held-out training pictures. This is the measure
    by which ``train_mfc_high.sh`` chooses, never a test set."""
    import tempfile
    import json

    from ...common.config import DecoderConfig, EncoderConfig
    from ...common.image_io import read_image
    from ...common.registry import ToolInstances
    from ...common.tasknet.coco_eval import evaluate_detections
    from ..ctc.fidelity import reference_ground_truth
    from ..studies.coding_loop import Tally, code_images, detections_of

    paths = heldout_pictures(bank_path, limit)
    if not paths:
        raise SystemExit(f"{bank_path}: no held-out pictures")
    images = [(p, read_image(p)) for p in paths]
    network = load_task_network("yolo-fastest-1.1-xl", input_size=320, device="cpu")
    reference = {}
    for index, (_, rgb) in enumerate(images, 1):
        with torch.no_grad():
            found = network.detect(rgb)
        reference[index] = {"width": rgb.shape[1], "height": rgb.shape[0],
                            "detections": found.to_coco_results(index)}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(reference_ground_truth(reference, threshold), handle)
    ids = {p.name: i for i, (p, _) in enumerate(images, 1)}
    tools, rows = ToolInstances(), []
    for quality in qualities:
        config = EncoderConfig(tool="mfc", quality=quality, model=model, refine_steps=refine_steps)
        tally, results = Tally(), []
        for item in code_images(images, config, DecoderConfig(), tally, tools):
            results += detections_of(network, item.decoded.output, item.size).to_coco_results(ids[item.path.name])
        score = evaluate_detections(results, handle.name)
        rows.append({"model": model, "quality": quality, "pictures": len(images), "bpp": round(tally.bpp, 5),
                     "fidelity": round(100 * score["mAP"], 2), "encode_s": round(tally.mean_encode_seconds, 3)})
        print(json.dumps(rows[-1]), flush=True)
    Path(handle.name).unlink()
    return rows


def heldout_main(argv) -> int:
    parser = argparse.ArgumentParser(prog="train_mfc heldout", description=heldout.__doc__.split("\n")[0])
    parser.add_argument("--bank", default="out/mfc/bank.pt")
    parser.add_argument("--model", default="mfc")
    parser.add_argument("--qualities", type=int, nargs="+", required=True)
    parser.add_argument("--refine-steps", type=int, default=None, help="default: the tool's default")
    parser.add_argument("--limit", type=int, default=0, help="the first N held-out pictures only (0: all)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None, help="append the rows to this JSON-lines file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = heldout(args.qualities, Path(args.bank), args.model, args.refine_steps, args.limit)
    if args.json:
        import json

        with open(args.json, "a") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in rows)
    return 0


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["heldout"]:
        raise SystemExit(heldout_main(sys.argv[2:]))
    raise SystemExit(main(MfcRun, description=__doc__.split("\n\n")[0]))
