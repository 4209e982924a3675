"""Gaussian conditional entropy model (mean + scale), CompressAI ``GaussianConditional`` style.

Training: ``forward(y, scales, means)`` returns ``(y_hat, likelihoods)`` with additive uniform
noise (training) or rounding around the mean (evaluation), and a lower bound on the likelihood.

Coding works on integers that the caller has already formed, ``symbols = round(y - means)``
(``quantize``), with table indexes from ``build_indexes(scales)`` (or, for an integer-exact
entropy-parameter path, ``indexes_from_quantized_scales``). The tables are the exact integer
tables of ``gaussian_tables``; all values that share a table are coded in one range-coder run, and
values beyond a table's range use the escape code, so any int32 value round-trips.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from icm.common.entropy.gaussian_tables import (
    DEFAULT_SCALE_TABLE_Q16,
    SCALE_FRACTION_BITS,
    check_scale_table,
    gaussian_table_set,
)
from icm.common.entropy.indexed_coder import (
    TableSet,
    decode_indexed,
    encode_indexed,
    ideal_code_length_bits,
)
from icm.common.entropy.torch_ops import add_uniform_noise, lower_bound, round_with_offset, to_int32_symbols

MAX_SCALE_BITS = 30


def indexes_from_quantized_scales(quantized_scales, scale_bits: int,
                                  scale_table_q16=DEFAULT_SCALE_TABLE_Q16) -> np.ndarray:
    """Table indexes for integer scales ``q`` (scale = ``q / 2**scale_bits``), integer-only.

    Index = number of table scales strictly below the scale (the smallest table scale that is
    >= the scale), capped at the last entry; the comparison ``S_j * 2**scale_bits < q * 2**16`` is
    done on integers, so it is exact. Returns int32 with the shape of ``quantized_scales``.
    """
    q = np.asarray(quantized_scales)
    if q.size and not np.issubdtype(q.dtype, np.integer):
        raise ValueError("quantized scales must be integers")
    if not 0 <= scale_bits <= MAX_SCALE_BITS:
        raise ValueError(f"scale_bits must lie in [0, {MAX_SCALE_BITS}]")
    q = q.astype(np.int64)
    if q.size and (q.min() < 0 or q.max() >= 1 << 32):
        raise ValueError("quantized scales must lie in [0, 2**32)")
    table = np.array(check_scale_table(scale_table_q16), dtype=np.int64)
    thresholds = table << scale_bits
    index = np.searchsorted(thresholds, q << SCALE_FRACTION_BITS, side="left")
    return np.minimum(index, table.size - 1).astype(np.int32)


class GaussianConditional(nn.Module):
    """Gaussian conditional with a table of quantised scales and exact integer coding tables.

    ``scale_table_q16``: strictly increasing scales in units of 2**-16 (kept as a buffer, so a
    custom table travels in the state_dict). ``scale_bound`` (default: the smallest table scale)
    bounds the scales in ``likelihood``; ``likelihood_bound`` bounds the likelihoods.
    ``guard_bits``: fixed bits at the end of each substream against undetected truncation
    (``range_coder_io``); a bitstream-syntax choice, so encoder and decoder must agree.
    """

    def __init__(self, scale_table_q16=DEFAULT_SCALE_TABLE_Q16, scale_bound: float | None = None,
                 likelihood_bound: float = 1e-9, guard_bits: int = 0):
        super().__init__()
        self.guard_bits = int(guard_bits)
        table = check_scale_table(scale_table_q16)
        self.register_buffer("scale_table_q16", torch.tensor(table, dtype=torch.int64))
        self.scale_bound = float(scale_bound) if scale_bound is not None else table[0] / (1 << SCALE_FRACTION_BITS)
        self.likelihood_bound = float(likelihood_bound)

    # ----------------------------------------------------------------- tables
    def _table_key(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.scale_table_q16.tolist())

    @property
    def tables(self) -> TableSet:
        """The frozen integer tables (built exactly once per scale table)."""
        return gaussian_table_set(self._table_key())

    @property
    def scale_table(self) -> np.ndarray:
        """The table scales as float64 (exact: ``S / 2**16``)."""
        return np.array(self._table_key(), dtype=np.float64) / (1 << SCALE_FRACTION_BITS)

    # --------------------------------------------------------------- training
    def likelihood(self, y_hat: torch.Tensor, scales: torch.Tensor, means: torch.Tensor | None = None):
        """P(y_hat) under N(means, scales**2) integrated over the unit bin, lower-bounded."""
        values = y_hat - means if means is not None else y_hat
        scales = lower_bound(scales, self.scale_bound)
        values = torch.abs(values)
        upper = _standard_normal_cdf((0.5 - values) / scales)
        lower = _standard_normal_cdf((-0.5 - values) / scales)
        return lower_bound(upper - lower, self.likelihood_bound)

    def forward(self, y: torch.Tensor, scales: torch.Tensor, means: torch.Tensor | None = None,
                training: bool | None = None):
        """``(y_hat, likelihoods)``: noise when training (default: ``self.training``), else rounding."""
        if training is None:
            training = self.training
        if training:
            y_hat = add_uniform_noise(y)
        else:
            y_hat = round_with_offset(y, means if means is not None else 0.0)
        return y_hat, self.likelihood(y_hat, scales, means)

    # ---------------------------------------------------------------- indexes
    def build_indexes(self, scales):
        """Index of the smallest table scale >= each scale (last index above the table).

        Float comparisons against the exactly representable table values: deterministic for
        given scales. Returns int32 of the same kind (numpy or torch, same device) as ``scales``.
        """
        is_tensor = isinstance(scales, torch.Tensor)
        values = scales.detach().cpu().to(torch.float64).numpy() if is_tensor else np.asarray(scales, np.float64)
        table = self.scale_table
        index = np.minimum(np.searchsorted(table, values, side="left"), table.size - 1).astype(np.int32)
        return torch.from_numpy(index).to(scales.device) if is_tensor else index

    def indexes_from_quantized_scales(self, quantized_scales, scale_bits: int) -> np.ndarray:
        """Integer-only index selection; see the module-level function."""
        return indexes_from_quantized_scales(quantized_scales, scale_bits, self._table_key())

    # ------------------------------------------------------------------ coding
    @staticmethod
    def quantize(y: torch.Tensor, means: torch.Tensor | None = None) -> torch.Tensor:
        """Integer symbols ``round(y - means)`` (int32)."""
        return to_int32_symbols(y - means if means is not None else y)

    @staticmethod
    def dequantize(symbols, means: torch.Tensor | None = None) -> torch.Tensor:
        """``symbols + means`` as float32 (same device as ``means`` when given)."""
        s = symbols if isinstance(symbols, torch.Tensor) else torch.from_numpy(np.asarray(symbols))
        if means is None:
            return s.to(torch.float32)
        return s.to(device=means.device, dtype=means.dtype) + means

    def compress(self, symbols, indexes) -> bytes:
        """Encode int32 ``symbols`` (numpy or torch) with table ``indexes`` of the same shape."""
        return encode_indexed(_as_numpy(symbols), _as_numpy(indexes), self.tables, guard_bits=self.guard_bits)

    def decompress(self, data: bytes, indexes):
        """Decode the symbols for ``indexes`` (whose size the caller has bounded).

        Returns int32 with the shape of ``indexes``: a torch tensor on the same device if
        ``indexes`` is one, else a numpy array. Raises ``BitstreamError`` on corrupt data.
        """
        symbols = decode_indexed(data, _as_numpy(indexes), self.tables, guard_bits=self.guard_bits)
        if isinstance(indexes, torch.Tensor):
            return torch.from_numpy(symbols).to(indexes.device)
        return symbols

    def ideal_bits(self, symbols, indexes) -> float:
        """Information content (bits) of ``symbols`` under the integer tables actually used."""
        return ideal_code_length_bits(_as_numpy(symbols), _as_numpy(indexes), self.tables)


def _standard_normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.erfc(x * (-1.0 / math.sqrt(2.0)))


def _as_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)
