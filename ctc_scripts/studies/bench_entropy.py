"""Benchmark of the Gaussian conditional entropy coder on a hyperprior-like latent.

Run: ``.venv/bin/python -m icm.ctc_scripts.studies.bench_entropy [--channels 192 --height 32 --width 48]``

The latent imitates what a hyperprior decoder hands to the entropy coder: per-channel scales
(some channels nearly unused), smooth spatial modulation of the scales and means, Gaussian samples
in half of the channels and Laplacian ones (same variance, heavier tails) in the other half, plus a
few large outliers that exercise the escape code.

Printed figures:
* ``ideal (integer tables)``: sum of -log2(frequency / 2**16) over every symbol the range coder
  codes (bins, low bits of wide bins, escape prefixes and bits) - the target of the coder;
* ``ideal (continuous, true scales)``: sum of -log2 P(symbol) under N(0, scale**2) at each
  element's own scale, likelihood lower-bounded by 1e-9 as in training (bits a model of the
  same data would be trained to spend);
* ``ideal (continuous, table scales)``: the same at the quantised table scales used for coding;
* coded size, overhead against each ideal, and encode/decode throughput (best of ``--repeat``).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import ndtr

from icm.common.entropy import gaussian_tables
from icm.common.entropy.gaussian import GaussianConditional


def synthetic_latent(channels: int, height: int, width: int, seed: int = 0, outlier_rate: float = 2e-4):
    """(y, means, scales) as float64 arrays shaped (1, C, H, W)."""
    rng = np.random.default_rng(seed)
    base = np.exp(rng.uniform(np.log(0.08), np.log(12.0), channels))
    base[rng.random(channels) < 0.2] = 0.09  # nearly unused channels

    def smooth_field(strength):
        coarse = torch.from_numpy(rng.normal(size=(1, channels, max(1, height // 8), max(1, width // 8))))
        field = F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)
        return (strength * field).numpy()

    scales = base.reshape(1, -1, 1, 1) * np.exp(smooth_field(0.7))
    means = smooth_field(2.0)
    gaussian = rng.normal(size=scales.shape)
    laplacian = rng.laplace(scale=1.0 / np.sqrt(2.0), size=scales.shape)  # unit variance
    use_laplace = (np.arange(channels) % 2 == 1).reshape(1, -1, 1, 1)
    noise = np.where(use_laplace, laplacian, gaussian)
    y = means + noise * scales
    outliers = rng.random(y.shape) < outlier_rate
    y[outliers] += rng.choice([-1.0, 1.0], int(outliers.sum())) * rng.uniform(50, 5000, int(outliers.sum()))
    return y, means, scales


def continuous_bits(symbols: np.ndarray, scales: np.ndarray, scale_bound: float, likelihood_bound: float) -> float:
    """Sum of -log2 of the discretised Gaussian likelihood (float64), as in training."""
    v = np.abs(symbols.astype(np.float64))
    s = np.maximum(scales, scale_bound)
    likelihood = ndtr((0.5 - v) / s) - ndtr((-0.5 - v) / s)
    return float(-np.log2(np.maximum(likelihood, likelihood_bound)).sum())


def best_time(function, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=192)
    parser.add_argument("--height", type=int, default=32)
    parser.add_argument("--width", type=int, default=48)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--outlier-rate", type=float, default=2e-4,
                        help="fraction of elements pushed 50 to 5000 away from their mean")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    gaussian_tables.gaussian_table_set.cache_clear()
    model = GaussianConditional()
    tables = model.tables
    table_seconds = time.perf_counter() - start

    y, means, scales = synthetic_latent(args.channels, args.height, args.width, args.seed, args.outlier_rate)
    symbols = model.quantize(torch.from_numpy(y), torch.from_numpy(means)).numpy()
    indexes = model.build_indexes(scales)
    n = symbols.size
    table_scales = model.scale_table[indexes]
    bins = tables.bins[indexes]
    lows = tables.lows[indexes]
    highs = lows + (bins << tables.shifts[indexes])
    escapes = int(np.sum((symbols < lows) | (symbols >= highs)))

    ideal_tables = model.ideal_bits(symbols, indexes)
    ideal_true = continuous_bits(symbols, scales, model.scale_bound, model.likelihood_bound)
    ideal_table_scales = continuous_bits(symbols, table_scales, model.scale_bound, model.likelihood_bound)

    encode_seconds, data = best_time(lambda: model.compress(symbols, indexes), args.repeat)
    decode_seconds, decoded = best_time(lambda: model.decompress(data, indexes), args.repeat)
    if not np.array_equal(decoded, symbols):
        raise SystemExit("round trip FAILED")
    coded = 8 * len(data)

    def overhead(reference: float) -> str:
        return f"{100.0 * (coded - reference) / reference:+.3f} %"

    print(f"latent                            : {args.channels}x{args.height}x{args.width}, seed {args.seed}, "
          f"outlier rate {args.outlier_rate:g}")
    print(f"symbols                           : {n}")
    print(f"escaped symbols                   : {escapes}")
    print(f"table indexes used                : {len(np.unique(indexes))} of {len(tables)}")
    print(f"ideal (continuous, true scales)   : {ideal_true:.0f} bits ({ideal_true / n:.4f} bit/symbol)")
    print(f"ideal (continuous, table scales)  : {ideal_table_scales:.0f} bits")
    print(f"ideal (integer tables)            : {ideal_tables:.0f} bits")
    print(f"coded                             : {coded} bits ({len(data)} bytes, {coded / n:.4f} bit/symbol)")
    print(f"overhead vs integer-table ideal   : {overhead(ideal_tables)}")
    print(f"overhead vs continuous, true scale: {overhead(ideal_true)}")
    print(f"encode                            : {n / encode_seconds / 1e6:.2f} Msymbols/s "
          f"({encode_seconds * 1e3:.1f} ms)")
    print(f"decode (with exactness check)     : {n / decode_seconds / 1e6:.2f} Msymbols/s "
          f"({decode_seconds * 1e3:.1f} ms)")
    print(f"table build (64 exact tables)     : {table_seconds * 1e3:.1f} ms")
    print("round trip                        : exact")


if __name__ == "__main__":
    main()
