"""The figures of how well the ``npp-vvc`` proxy imitates VVenC, per QP (used by ``train_npp_proxy``'s
validation and by the ``npp_proxy_fidelity`` command, which documents the figures)."""
from __future__ import annotations

import numpy as np
import torch

from ...common.models.proxy_codec import ProxyCodec


COLUMNS = ("qp", "n", "r_bits", "r_logbits", "rel_err", "bpp_vvc", "bpp_proxy", "psnr_pv", "psnr_vo", "psnr_po")


def flat_pairs(pairs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One row per (crop, QP): original (repeated), decoded, qp, bits."""
    count, per_crop = pairs["qp"].shape
    return {"original": np.repeat(pairs["original"], per_crop, axis=0),
            "decoded": pairs["decoded"].reshape(count * per_crop, *pairs["decoded"].shape[2:]),
            "qp": pairs["qp"].reshape(-1).astype(np.int64), "bits": pairs["bits"].reshape(-1).astype(np.float64)}


def to_batch(rgb: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(rgb).to(device).permute(0, 3, 1, 2).float() / 255.0


def psnr(mse: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(float(np.mean(mse)), 1e-12)))


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or np.std(a) <= 1e-9 * np.abs(a).mean() or np.std(b) == 0:
        return float("nan")      # a constant prediction (an untrained proxy) has no correlation
    return float(np.corrcoef(a, b)[0, 1])


@torch.no_grad()
def proxy_predictions(model: ProxyCodec, rows: dict[str, np.ndarray], device: torch.device, batch: int = 32):
    """The proxy's bits and its MSEs against VVC's picture and the original, per row."""
    model.eval()
    bits, mse_pv, mse_po = [], [], []
    for start in range(0, len(rows["qp"]), batch):
        x = to_batch(rows["original"][start:start + batch], device)
        decoded = to_batch(rows["decoded"][start:start + batch], device)
        out = model(x, torch.from_numpy(rows["qp"][start:start + batch]).to(device), noise=False)
        bits.append(out.bits.cpu().numpy())
        mse_pv.append(((out.x_hat - decoded) ** 2).mean(dim=(1, 2, 3)).cpu().numpy())
        mse_po.append(((out.x_hat - x) ** 2).mean(dim=(1, 2, 3)).cpu().numpy())
    return np.concatenate(bits), np.concatenate(mse_pv), np.concatenate(mse_po)


def proxy_fidelity(model: ProxyCodec, pairs: dict[str, np.ndarray], device: torch.device | str = "cpu") -> dict:
    """``{"per_qp": [row per QP], "mean": {...}}`` with the figures of ``COLUMNS``."""
    rows = flat_pairs(pairs)
    device = torch.device(device)
    bits, mse_pv, mse_po = proxy_predictions(model, rows, device)
    original = rows["original"].astype(np.float32) / 255
    mse_vo = ((rows["decoded"].astype(np.float32) / 255 - original) ** 2).mean(axis=(1, 2, 3))
    pixels = original.shape[1] * original.shape[2]
    per_qp = []
    for qp in sorted(set(rows["qp"].tolist())):
        sel = rows["qp"] == qp
        real, fake = rows["bits"][sel], bits[sel]
        per_qp.append({"qp": qp, "n": int(sel.sum()), "r_bits": pearson(fake, real),
                       "r_logbits": pearson(np.log(fake), np.log(real)),
                       "rel_err": float(np.mean(np.abs(fake / real - 1))), "bpp_vvc": float(real.mean() / pixels),
                       "bpp_proxy": float(fake.mean() / pixels), "psnr_pv": psnr(mse_pv[sel]),
                       "psnr_vo": psnr(mse_vo[sel]), "psnr_po": psnr(mse_po[sel])})
    mean = {key: float(np.mean([row[key] for row in per_qp])) for key in COLUMNS[2:]}
    mean["r_logbits_all"] = pearson(np.log(bits), np.log(rows["bits"]))
    return {"per_qp": per_qp, "mean": mean}


def format_table(fidelity: dict) -> str:
    lines = [" ".join(f"{c:>9}" for c in COLUMNS)]
    for row in fidelity["per_qp"]:
        lines.append(" ".join(f"{row[c]:>9}" if c in ("qp", "n") else f"{row[c]:>9.3f}" for c in COLUMNS))
    mean = fidelity["mean"]
    lines.append(" ".join([f"{'mean':>9}", f"{'':>9}"] + [f"{mean[c]:>9.3f}" for c in COLUMNS[2:]]))
    lines.append(f"correlation of log bits over all QPs: {mean['r_logbits_all']:.4f}")
    return "\n".join(lines)
