"""Amortise the encoder's latent refinement into the analysis transforms of a shipped ``mfc`` weights file.

The encoder refines each picture's latent with gradient steps on the model's own objective J
(``encoder/mfc_refine.py``). Those steps are most of an encode's time. Here the analysis transforms ``g_a``
learn to land nearer the refined latents: they are trained on J itself, as the refiner computes it (rounding
with the straight-through gradient, the decoder-side networks as float copies of their exact forms, the hyper
latent coded from the analysis output and held fixed), over the training pictures of the feature bank. Every
decoder-side part of the file stays as it is, bit for bit (the hyper analysis too, since its output is coded):
the tuned file decodes the same way, only the encoder starts from a better latent, so it needs fewer
refinement steps for the same objective.

    python -m icm.ctc_scripts.training.train_mfc_encoder train --run out/mfc/enc/q3 \\
        --weights common/models/weights/mfc_q3.pt --steps 1000 --lr 1e-4
    python -m icm.ctc_scripts.training.train_mfc_encoder export --run out/mfc/enc/q3 -o out/mfc/enc/mfc_q3.pt

Codecs are trained together, in the coding order; the loss is the sum of each codec's J as the refiner sees it
when it refines that codec (tensors coded earlier enter decoded and detached, a residual's base is the
prediction from the decoded source). The label-free validation is J on the bank's held-out pictures.

Two losses: ``J`` (the objective itself, straight through the rounding: measured not to lower J, docs/results.md)
and, with ``--targets``, a regression onto refined latents that ``targets`` computes first (the refiner's search
on bank training samples). ``study`` prints the held-out J after k refinement steps from each file's analysis:

    python -m icm.ctc_scripts.training.train_mfc_encoder targets --weights W.pt --count 1024 -o T.pt
    python -m icm.ctc_scripts.training.train_mfc_encoder train --run RUN --weights W.pt --targets T.pt
    python -m icm.ctc_scripts.training.train_mfc_encoder study --weights W.pt TUNED.pt --steps 0 10 40
"""
from __future__ import annotations

import argparse
import copy
import io
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...common.fileio import write_bytes_atomically
from ...common.layers.exact import FloatGraph, fake_fixed, from_fixed
from ...common.models.mfc import CodecConfig, MfcRuntime, analysis_spec, load_weights_file
from ...common.tasknet.registry import load_task_network
from ...encoder.mfc_refine import LatentRefiner, picture_variances, refinement_for
from .skeleton import TrainingRun, main
from .train_mfc import Bank, Teacher


class AnalysisTransforms(nn.Module):
    """The trainable float analysis transforms of a weights file, one per codec (keyed by tensor id)."""

    def __init__(self, weights: dict):
        super().__init__()
        self.graphs = nn.ModuleDict()
        for values in weights["codecs"]:
            codec = CodecConfig(**values["config"])
            graph = FloatGraph(analysis_spec(codec))
            graph.load_state_dict({k: v.float() for k, v in values["g_a"].items()})
            self.graphs[str(codec.tensor_id)] = graph


class EncoderPasses:
    """A weights file's encoder over batches of bank samples: its analysis transforms (``transforms``, which a
    run trains), the refiner and the bank."""

    def __init__(self, weights_path: str, bank_path: str, device: torch.device):
        self.weights = load_weights_file(weights_path)
        self.runtime = MfcRuntime(self.weights, device)
        config = self.runtime.config
        self.network = load_task_network(config.task_network, input_size=config.input_size, device=device)
        self.refiner = LatentRefiner(self.runtime, self.network, refinement_for(self.runtime.config.variant))
        self.transforms = AnalysisTransforms(self.weights).to(device)
        self.bank_path, self.device, self._bank = Path(bank_path), device, None

    @property
    def bank(self) -> Bank:
        if self._bank is None:
            self._bank = Bank(self.bank_path, self.device, Teacher(self.network))
        return self._bank

    def passes(self, batch, refine_steps: int = 0, objective: bool = True) -> list[tuple]:
        """The codecs in coding order over a batch, as the encoder runs them: per codec, (tensor id, analysis
        output, J of that latent (batch mean, differentiable in the analysis; None without ``objective`` or with
        ``refine_steps``, whose result holds the start's J), and with ``refine_steps`` the refiner's result:
        kept latents, J per picture at the start and kept). A later codec sees the earlier ones decoded from
        their kept latents when refined, else from the analysis output."""
        s16, s32, raw_ref = batch
        originals = [s16, s32]
        variances = [picture_variances(t) for t in originals]
        runtime, known, passes = self.runtime, {}, []
        for tid in runtime.order:
            codec = runtime.codecs[tid]
            analysis = self.transforms.graphs[str(tid)]
            base = None
            if codec.config.residual:
                base = fake_fixed(self.refiner.predictor(known[runtime.prediction.source]))
                y = analysis(originals[tid] - base)
            elif codec.config.side_channels:
                y = analysis(originals[tid], originals[codec.config.side_tensor])
            else:
                y = analysis(originals[tid])
            hyper = from_fixed(codec.hyper_features(y.detach()))
            others = {i: v for i, v in known.items() if not runtime.codecs[i].config.residual}
            cost, refined = None, None
            if refine_steps:
                with torch.enable_grad():
                    refined = self.refiner.refine_batch(tid, y.detach(), hyper, originals, others, base,
                                                        refine_steps)
            elif objective:
                cost = self.refiner.objective(tid, y, hyper, originals, others, base, raw_ref, variances)
            passes.append((tid, y, cost, refined))
            if not codec.config.residual and tid != runtime.order[-1]:
                with torch.no_grad():
                    _, x_hat = self.refiner.decode(tid, refined[0] if refined else y, hyper)
                known[tid] = fake_fixed(x_hat)
        return passes


class MfcEncoderRun(TrainingRun):
    """Fine-tunes the analysis transforms of one weights file: on the refinement objective, or onto refined
    latents (``--targets``)."""

    name = "mfc-encoder"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.set_defaults(save_every=100, warmup_steps=20, lr=1e-4)
        parser.add_argument("--weights", required=True, help="the mfc weights file whose encoder is tuned")
        parser.add_argument("--bank", default="out/mfc/bank.pt")
        parser.add_argument("--targets", default=None, help="refined latents (the targets command): regress onto "
                                                            "them instead of lowering J")

    def build_model(self) -> nn.Module:
        self.encoder = EncoderPasses(self.args.weights, self.args.bank, self.device)
        self.targets = None
        if self.args.targets:
            self.targets = torch.load(self.args.targets, map_location=self.device, weights_only=True)
        return self.encoder.transforms

    def objective(self, batch) -> torch.Tensor:
        """The sum over codecs of J of the analysis output (batch means), as the refiner would start."""
        return sum(cost for _, _, cost, _ in self.encoder.passes(batch))

    def regression(self, rows: np.ndarray) -> torch.Tensor:
        """The sum over codecs of the mean squared distance of the analysis output to the target latents (rows
        of the targets file), each divided by the targets' variance."""
        targets = self.targets
        bank = self.encoder.bank
        batch = bank.batch(targets["indexes"][torch.as_tensor(rows)].cpu().numpy())
        total = 0.0
        for tid, y, _, _ in self.encoder.passes(batch, objective=False):
            goal = targets["latents"][str(tid)][torch.as_tensor(rows)]
            total = total + torch.mean((y - goal) ** 2) / targets["variance"][str(tid)]
        return total

    def training_loss(self, rng: np.random.Generator):
        if self.targets is not None:
            rows = rng.choice(len(self.targets["indexes"]), self.args.batch, replace=False)
            loss = self.regression(rows)
            return loss, {"regression": loss.item()}
        bank = self.encoder.bank
        loss = self.objective(bank.batch(rng.choice(bank.train, self.args.batch, replace=False)))
        return loss, {"J": loss.item()}

    def validate(self, count: int = 256) -> dict:
        if not len(self.encoder.bank.val):
            return {}
        return {"heldout_J": round(heldout_objective(self.encoder, 0, count), 6)}

    def export(self, output: Path) -> dict:
        """The weights file with the tuned analysis transforms (float16, as exported) and nothing else changed."""
        weights = copy.deepcopy(self.encoder.weights)
        for values in weights["codecs"]:
            graph = self.model.graphs[str(values["config"]["tensor_id"])]
            values["g_a"] = {k: v.detach().cpu().to(torch.float16) for k, v in graph.state_dict().items()}
        weights["info"] = dict(weights.get("info", {}), encoder_tuning={
            "steps": self.step, "lr": self.args.lr, "batch": self.args.batch,
            "loss": "regression" if self.args.targets else "J"})
        save_atomically(weights, output)
        print(f"wrote {output} ({output.stat().st_size} bytes)")
        return weights


def save_atomically(value: dict, path: Path) -> None:
    """``torch.save`` of ``value`` to ``path``, written atomically (common/fileio.py)."""
    buffer = io.BytesIO()
    torch.save(value, buffer)
    write_bytes_atomically(path, buffer.getvalue())


def heldout_objective(encoder: EncoderPasses, refine_steps: int, count: int, batch: int = 32) -> float:
    """Mean over the first ``count`` held-out bank samples of the sum over codecs of J: of the analysis output,
    or of the kept latent after ``refine_steps`` refinement steps."""
    bank = encoder.bank
    indexes = bank.val[:count]
    if not len(indexes):
        raise SystemExit(f"{encoder.bank_path}: no held-out samples (pictures whose index is 9 modulo 10)")
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(indexes), batch):
            chunk = indexes[i:i + batch]
            for _, _, cost, refined in encoder.passes(bank.batch(chunk), refine_steps):
                total += float(refined[2].sum()) if refined else cost.item() * len(chunk)
    return total / max(1, len(indexes))


def make_targets(weights: str, bank_path: str, count: int, steps: int, output: Path, batch: int = 32) -> None:
    """The refined latents of ``count`` bank training samples (evenly spaced), per codec, for ``--targets``."""
    encoder = EncoderPasses(weights, bank_path, torch.device("cpu"))
    bank = encoder.bank
    indexes = bank.train[np.linspace(0, len(bank.train) - 1, min(count, len(bank.train))).astype(np.int64)]
    latents: dict[str, list] = {}
    start_j, kept_j = 0.0, 0.0
    with torch.no_grad():
        for i in range(0, len(indexes), batch):
            for tid, _, _, refined in encoder.passes(bank.batch(indexes[i:i + batch]), steps):
                latents.setdefault(str(tid), []).append(refined[0].cpu())
                start_j += float(refined[1].sum())
                kept_j += float(refined[2].sum())
            print(f"{min(i + batch, len(indexes))}/{len(indexes)} samples: J {start_j / (i + batch):.5f} -> "
                  f"{kept_j / (i + batch):.5f}", flush=True)
    stacked = {tid: torch.cat(parts) for tid, parts in latents.items()}
    targets = {"indexes": torch.as_tensor(indexes), "latents": stacked,
               "variance": {tid: float(t.var()) for tid, t in stacked.items()}, "steps": steps}
    save_atomically(targets, output)
    print(f"wrote {output}")


def command(argv) -> int:
    """The ``targets`` and ``study`` commands."""
    parser = argparse.ArgumentParser(prog="train_mfc_encoder")
    sub = parser.add_subparsers(dest="command", required=True)
    targets = sub.add_parser("targets", help="refined latents of bank training samples")
    targets.add_argument("--weights", required=True)
    targets.add_argument("--count", type=int, default=1024)
    targets.add_argument("--steps", type=int, default=40)
    targets.add_argument("-o", "--output", required=True)
    study = sub.add_parser("study", help="held-out J after k refinement steps, per weights file")
    study.add_argument("--weights", nargs="+", required=True)
    study.add_argument("--steps", type=int, nargs="+", default=[0, 10, 40])
    study.add_argument("--count", type=int, default=256)
    for p in (targets, study):
        p.add_argument("--bank", default="out/mfc/bank.pt")
        p.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.command == "targets":
        make_targets(args.weights, args.bank, args.count, args.steps, Path(args.output))
        return 0
    for weights in args.weights:
        encoder = EncoderPasses(weights, args.bank, torch.device("cpu"))
        figures = {k: round(heldout_objective(encoder, k, args.count), 6) for k in args.steps}
        print(weights, " ".join(f"J@{k}={v}" for k, v in figures.items()), flush=True)
    return 0


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] in (["targets"], ["study"]):
        raise SystemExit(command(sys.argv[1:]))
    raise SystemExit(main(MfcEncoderRun, description=__doc__.split("\n\n")[0]))
