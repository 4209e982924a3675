"""Tests for the Gaussian conditional: round trips, escapes, grouping, indexes, training path."""
import numpy as np
import pytest
import torch

from icm.common.entropy import escape
from icm.common.entropy.gaussian import GaussianConditional, indexes_from_quantized_scales
from icm.common.entropy.gaussian_tables import DEFAULT_SCALE_TABLE_Q16, table_layout
from icm.common.entropy.range_coder_io import SymbolDecoder


@pytest.fixture(scope="module")
def gc():
    return GaussianConditional()


def _round_trip(gc, symbols, indexes):
    data = gc.compress(symbols, indexes)
    out = gc.decompress(data, indexes)
    np.testing.assert_array_equal(out, symbols)
    assert out.dtype == np.int32 and out.shape == np.shape(indexes)
    return data


def test_round_trip_with_outliers_and_every_index(gc):
    rng = np.random.default_rng(0)
    indexes = rng.integers(0, 64, (3, 40, 50))
    scale = np.array(DEFAULT_SCALE_TABLE_Q16)[indexes] / 65536
    symbols = np.round(rng.laplace(size=indexes.shape) * scale * 1.3).astype(np.int64)
    flat = symbols.reshape(-1)
    flat[rng.choice(flat.size, 300, replace=False)] = rng.integers(-10**9, 10**9, 300)
    flat[:4] = [2**31 - 1, -2**31, 2**31 - 2, -2**31 + 1]
    _round_trip(gc, symbols.astype(np.int32), indexes)


@pytest.mark.parametrize("index", range(64))
def test_every_table_over_and_beyond_its_range(gc, index):
    bins, shift, low = table_layout(DEFAULT_SCALE_TABLE_Q16[index])
    high = low + (bins << shift)
    values = np.arange(low - 40, high + 40)
    values = np.concatenate([values, [low - 1, high, low - 2**20, high + 2**20, 2**31 - 1, -2**31]])
    _round_trip(gc, values.astype(np.int32), np.full(values.shape, index))


def test_empty_and_single(gc):
    assert gc.compress(np.zeros(0, np.int32), np.zeros(0, np.int32)) == b""
    assert gc.decompress(b"", np.zeros((0, 3), np.int32)).shape == (0, 3)
    for value in (0, 1, -1, 5000, -2**31):
        _round_trip(gc, np.array([value], np.int32), np.array([7]))


def test_torch_inputs_give_torch_outputs(gc):
    y = torch.randn(1, 4, 6, 6) * 3
    means = torch.randn(1, 4, 6, 6)
    scales = torch.rand(1, 4, 6, 6) * 5 + 0.05
    symbols = gc.quantize(y, means)
    indexes = gc.build_indexes(scales)
    assert symbols.dtype == torch.int32 and indexes.dtype == torch.int32
    out = gc.decompress(gc.compress(symbols, indexes), indexes)
    assert isinstance(out, torch.Tensor) and torch.equal(out, symbols)
    y_hat = gc.dequantize(out, means)
    torch.testing.assert_close(y_hat, gc(y, scales, means, training=False)[0])


def test_all_values_of_one_table_go_in_one_run(gc, monkeypatch):
    calls = []
    original = SymbolDecoder.decode

    def spy(self, n, cdf):
        calls.append(n)
        return original(self, n, cdf)

    monkeypatch.setattr(SymbolDecoder, "decode", spy)
    rng = np.random.default_rng(1)
    indexes = rng.choice([3, 20, 40], 5000)
    symbols = rng.integers(-1, 2, 5000).astype(np.int32)  # in range of every table: no escape
    _round_trip(gc, symbols, indexes)
    assert calls == [np.sum(indexes == 3), np.sum(indexes == 20), np.sum(indexes == 40)]


def test_coded_size_is_close_to_the_table_ideal(gc):
    rng = np.random.default_rng(2)
    scales = np.exp(rng.uniform(np.log(0.1), np.log(60), 100000))
    symbols = np.round(rng.normal(size=scales.size) * scales).astype(np.int32)
    indexes = gc.build_indexes(scales)
    ideal = gc.ideal_bits(symbols, indexes)
    coded = 8 * len(_round_trip(gc, symbols, indexes))
    assert ideal - 32 <= coded <= 1.005 * ideal + 64


def test_build_indexes_picks_the_smallest_table_scale_not_below(gc):
    table = gc.scale_table
    scales = np.concatenate([table, np.nextafter(table, np.inf), [0.0, 1e-3, 1e6, np.inf]])
    got = gc.build_indexes(scales)
    expected = np.concatenate([np.arange(64), np.minimum(np.arange(1, 65), 63), [0, 0, 63, 63]])
    np.testing.assert_array_equal(got, expected)


def test_integer_index_path_agrees_with_the_float_path(gc):
    rng = np.random.default_rng(3)
    for bits in (0, 8, 16, 20):
        q = rng.integers(0, 300 << bits, 20000)
        q = np.concatenate([q, (np.array(DEFAULT_SCALE_TABLE_Q16) << bits) >> 16])
        expected = gc.build_indexes(q / 2.0**bits)
        np.testing.assert_array_equal(indexes_from_quantized_scales(q, bits), expected)
        np.testing.assert_array_equal(gc.indexes_from_quantized_scales(q, bits), expected)
    with pytest.raises(ValueError):
        indexes_from_quantized_scales(np.array([1.5]), 4)


def test_forward_training_and_eval():
    gc = GaussianConditional()
    y = (torch.randn(2, 8, 5, 5) * 4).requires_grad_()
    scales = (torch.rand(2, 8, 5, 5) * 3).requires_grad_()
    y_hat, lik = gc(y, scales, training=True)
    assert not torch.equal(y_hat, torch.round(y))
    assert torch.all((y_hat - y).abs() <= 0.5)
    assert torch.all(lik >= 1e-9) and torch.all(lik <= 1)
    (-torch.log2(lik).sum()).backward()
    assert torch.isfinite(scales.grad).all() and scales.grad.abs().sum() > 0
    y_hat, lik = gc(y, scales, training=False)
    torch.testing.assert_close(y_hat, torch.round(y))


def test_bad_inputs_are_rejected(gc):
    with pytest.raises(ValueError):
        gc.compress(np.array([1, 2], np.int64), np.array([0]))
    with pytest.raises(ValueError):
        gc.compress(np.array([1]), np.array([64]))
    with pytest.raises(ValueError):
        gc.compress(np.array([2**31]), np.array([0]))
    with pytest.raises(ValueError):
        gc.quantize(torch.tensor([3e9]))


@pytest.mark.parametrize("magnitude", [0, 1, 2, 3, 7, 8, 1000, 2**31, 2**32 - 1, escape.MAX_OVERFLOW])
def test_escape_code_round_trip(magnitude):
    m = np.array([magnitude, 0, magnitude])
    below = np.array([True, False, False])
    prefixes, bits = escape.split_escapes(m, below)
    assert prefixes[0] == (magnitude + 1).bit_length() - 1
    assert bits.size == escape.bits_needed(prefixes)
    got_m, got_below = escape.join_escapes(prefixes, bits)
    np.testing.assert_array_equal(got_m, m)
    np.testing.assert_array_equal(got_below, below)
