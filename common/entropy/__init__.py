"""Bit-exact entropy coding: integer CDF tables, range coding, factorized and Gaussian priors.

Modules (see ``docs/entropy.md`` for the design and measured figures):

* ``range_coder_io``  - the only wrapper of the ``range-coder`` package (checks, temp files,
  corrupt-data detection): ``encode_batches``, ``SymbolEncoder``, ``SymbolDecoder``;
* ``cdf``             - 16-bit integer CDFs with an integer rounding rule: ``pmf_to_quantized_cdf``;
* ``exact_normal``    - the normal CDF in integer arithmetic;
* ``gaussian_tables`` - the scale table and its exact integer Gaussian tables;
* ``escape``          - Exp-Golomb escape code for values beyond a table;
* ``indexed_coder``   - values with per-value table indexes, grouped per table, one substream;
* ``gaussian``        - ``GaussianConditional`` (torch module);
* ``factorized``      - ``FactorizedPrior`` (torch module, CompressAI EntropyBottleneck style).

The names below are importable from this package directly; they load their module on first use.
"""
import importlib

_EXPORTS = {
    "encode_batches": "range_coder_io",
    "SymbolEncoder": "range_coder_io",
    "SymbolDecoder": "range_coder_io",
    "pmf_to_quantized_cdf": "cdf",
    "weights_to_quantized_cdf": "cdf",
    "quantize_weights": "cdf",
    "PRECISION": "cdf",
    "TableSet": "indexed_coder",
    "encode_indexed": "indexed_coder",
    "decode_indexed": "indexed_coder",
    "DEFAULT_SCALE_TABLE_Q16": "gaussian_tables",
    "gaussian_table_set": "gaussian_tables",
    "GaussianConditional": "gaussian",
    "indexes_from_quantized_scales": "gaussian",
    "FactorizedPrior": "factorized",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
