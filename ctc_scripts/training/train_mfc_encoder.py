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
"""
from __future__ import annotations

import argparse
import copy
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...common.layers.exact import FloatGraph, fake_fixed, from_fixed
from ...common.models.mfc import CodecConfig, MfcRuntime, analysis_spec, load_weights_file
from ...common.tasknet.registry import load_task_network
from ...encoder.mfc_refine import LatentRefiner, picture_variances
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


class MfcEncoderRun(TrainingRun):
    """Fine-tunes the analysis transforms of one weights file on the refinement objective."""

    name = "mfc-encoder"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.set_defaults(save_every=100, warmup_steps=20, lr=1e-4)
        parser.add_argument("--weights", required=True, help="the mfc weights file whose encoder is tuned")
        parser.add_argument("--bank", default="out/mfc/bank.pt")

    def build_model(self) -> nn.Module:
        self.weights = load_weights_file(self.args.weights)
        self.runtime = MfcRuntime(self.weights, self.device)
        self.network = load_task_network(self.runtime.config.task_network, input_size=self.runtime.config.input_size,
                                         device=self.device)
        self.refiner = LatentRefiner(self.runtime, self.network)
        self._bank = None
        return AnalysisTransforms(self.weights)

    @property
    def bank(self) -> Bank:
        if self._bank is None:
            self._bank = Bank(Path(self.args.bank), self.device, Teacher(self.network))
        return self._bank

    def objective(self, batch) -> torch.Tensor:
        """The sum over codecs of J of the analysis output (batch means), as the refiner would start."""
        s16, s32, raw_ref = batch
        originals = [s16, s32]
        variances = [picture_variances(t) for t in originals]
        runtime, total, known = self.runtime, 0.0, {}
        for tid in runtime.order:
            codec = runtime.codecs[tid]
            base = None
            if codec.config.residual:
                base = fake_fixed(self.refiner.predictor(known[runtime.prediction.source]))
                y = self.model.graphs[str(tid)](originals[tid] - base)
            elif codec.config.side_channels:
                y = self.model.graphs[str(tid)](originals[tid], originals[codec.config.side_tensor])
            else:
                y = self.model.graphs[str(tid)](originals[tid])
            with torch.no_grad():
                z = codec.h_a(y)
                medians = codec.prior._medians.to(z).view(1, -1, 1, 1)
                hyper = from_fixed(codec._hyper(torch.round(z - medians) + medians))
            others = {i: v for i, v in known.items() if not runtime.codecs[i].config.residual}
            cost = self.refiner.objective(tid, y, hyper, originals, others, base, raw_ref, variances)
            total = total + cost
            if codec.config.residual:
                continue
            with torch.no_grad():
                _, x_hat = self.refiner._decode(tid, codec, y, hyper)
            known[tid] = fake_fixed(x_hat)
        return total

    def training_loss(self, rng: np.random.Generator):
        bank = self.bank
        loss = self.objective(bank.batch(rng.choice(bank.train, self.args.batch, replace=False)))
        return loss, {"J": loss.item()}

    def validate(self, count: int = 256) -> dict:
        bank = self.bank
        indexes = bank.val[:count]
        total = 0.0
        for i in range(0, len(indexes), 32):
            total += self.objective(bank.batch(indexes[i:i + 32])).item() * len(indexes[i:i + 32])
        return {"heldout_J": round(total / max(1, len(indexes)), 6)}

    def export(self, output: Path) -> dict:
        """The weights file with the tuned analysis transforms (float16, as exported) and nothing else changed."""
        weights = copy.deepcopy(self.weights)
        for values in weights["codecs"]:
            graph = self.model.graphs[str(values["config"]["tensor_id"])]
            values["g_a"] = {k: v.detach().cpu().to(torch.float16) for k, v in graph.state_dict().items()}
        weights["info"] = dict(weights.get("info", {}), encoder_tuning={"steps": self.step, "lr": self.args.lr,
                                                                         "batch": self.args.batch})
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = output.with_name(output.name + ".tmp")
        torch.save(weights, tmp)
        tmp.replace(output)
        print(f"wrote {output} ({output.stat().st_size} bytes)")
        return weights


if __name__ == "__main__":
    raise SystemExit(main(MfcEncoderRun, description=__doc__.split("\n\n")[0]))
