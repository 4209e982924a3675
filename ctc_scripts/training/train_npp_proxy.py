"""Train the ``npp-vvc`` proxy codec to imitate VVenC on the cached pairs (``npp_pairs.py``).

    python -m icm.ctc_scripts.training.train_npp_proxy train --run out/npp/runs/proxy --pairs out/npp/pairs \\
        --steps 20000 --batch 16 --threads 1
    python -m icm.ctc_scripts.training.train_npp_proxy export --run out/npp/runs/proxy -o out/npp/proxy.npz

Each step draws ``--batch`` (crop, QP) pairs of the training chunks; the proxy codes the crop at that QP
(rate with the noisy latent, reconstruction with the rounded one) and the loss is

    mean(MSE(proxy_hat, vvc_hat) / (MSE(x, vvc_hat) + 1e-4)) + w_rate * mean((log2 proxy_bits - log2 vvc_bits)^2)

The first term is the imitation error relative to VVC's own coding error at that QP (detached), so every
QP weighs the same whether VVC's error is large (QP 47) or small (QP 22). Validation (``--val-every``) is
the fidelity table of ``npp_proxy_fidelity.py`` on the held-out pairs, summarised (means over QPs).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from ...common.models.proxy_codec import ProxyCodec, ProxyConfig, save_npz
from .npp_pairs import chunk_files, load_pairs
from .npp_proxy_measure import flat_pairs, proxy_fidelity, to_batch
from .skeleton import TrainingRun, main

VVC_MSE_FLOOR = 1e-4  # 40 dB: flat crops at low QP, coded almost losslessly, do not dominate the loss


class ProxyRun(TrainingRun):
    name = "npp-proxy"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--pairs", default="out/npp/pairs", help="the pairs cache of npp_pairs.py")
        parser.add_argument("--channels", type=int, default=64)
        parser.add_argument("--latent-channels", type=int, default=192, help="at most 192 (8x8 blocks, 3 colours)")
        parser.add_argument("--hyper-channels", type=int, default=64)
        parser.add_argument("--w-rate", type=float, default=1.0, help="weight of the log-bits error")
        parser.add_argument("--max-train-chunks", type=int, default=0, help="use the first N chunks (0: all)")

    def __init__(self, args: argparse.Namespace):
        super().__init__(args)
        folder = Path(args.pairs)
        files = chunk_files(folder, "train")
        files = files[:args.max_train_chunks] if args.max_train_chunks else files
        self.train_rows = flat_pairs(load_pairs(files))
        self.heldout = load_pairs(chunk_files(folder, "heldout"))
        print(f"pairs: {len(self.train_rows['qp'])} training (from {len(files)} chunks), "
              f"{self.heldout['bits'].size} held-out", flush=True)

    def build_model(self) -> ProxyCodec:
        a = self.args
        return ProxyCodec(ProxyConfig(channels=a.channels, latent_channels=a.latent_channels,
                                      hyper_channels=a.hyper_channels))

    def training_loss(self, rng: np.random.Generator) -> tuple[torch.Tensor, dict]:
        rows = self.train_rows
        pick = rng.integers(0, len(rows["qp"]), self.args.batch)
        x = to_batch(rows["original"][pick], self.device)
        target = to_batch(rows["decoded"][pick], self.device)
        bits = torch.from_numpy(rows["bits"][pick]).to(self.device, torch.float32)
        out = self.model(x, torch.from_numpy(rows["qp"][pick]).to(self.device), noise=True)
        mse_pv = ((out.x_hat - target) ** 2).mean(dim=(1, 2, 3))
        mse_vo = ((x - target) ** 2).mean(dim=(1, 2, 3)).detach()
        imitation = (mse_pv / (mse_vo + VVC_MSE_FLOOR)).mean()
        log_error = torch.log2(out.bits) - torch.log2(bits)
        rate = (log_error ** 2).mean()
        loss = imitation + self.args.w_rate * rate
        figures = {"imitation": imitation, "log2_bits_err": log_error.abs().mean(),
                   "psnr_pv": -10 * torch.log10(mse_pv.mean())}
        return loss, {key: float(value.detach()) for key, value in figures.items()}

    def validate(self) -> dict:
        fidelity = proxy_fidelity(self.model, self.heldout, self.device)
        summary = {key: round(value, 4) for key, value in fidelity["mean"].items()}
        summary["per_qp"] = {row["qp"]: [round(row["r_logbits"], 3), round(row["rel_err"], 3),
                                         round(row["psnr_pv"], 2)] for row in fidelity["per_qp"]}
        return summary

    def export(self, output: Path) -> None:
        fidelity = proxy_fidelity(self.model, self.heldout, self.device)
        save_npz(self.model, output, extra={"step": self.step, "pairs": self.args.pairs,
                                            "heldout_fidelity": fidelity})
        print(f"wrote {output} (step {self.step}); held-out fidelity means: {fidelity['mean']}")


if __name__ == "__main__":
    raise SystemExit(main(ProxyRun))
