"""Tests for the integer CDF construction (rounding rule and invariants)."""
import numpy as np
import pytest

from icm.common.entropy import cdf as cdf_mod
from icm.common.entropy.cdf import (
    TOTAL_FREQUENCY,
    check_quantized_cdf,
    pmf_to_quantized_cdf,
    quantize_weights,
    weights_to_quantized_cdf,
)


def _assert_valid(cdf, size):
    assert cdf.dtype == np.int64
    assert cdf.size == size + 1
    assert cdf[0] == 0 and cdf[-1] == TOTAL_FREQUENCY
    assert np.all(np.diff(cdf) >= 1)
    check_quantized_cdf(cdf)


@pytest.mark.parametrize("size", [1, 2, 3, 17, 255, 1024])
def test_invariants_on_random_pmfs(size):
    rng = np.random.default_rng(size)
    for concentration in (0.01, 0.3, 5.0):
        pmf = rng.dirichlet(np.full(size, concentration))
        pmf[rng.random(size) < 0.2] = 0.0  # zero-probability symbols still get frequency 1
        _assert_valid(pmf_to_quantized_cdf(pmf), size)


def test_extreme_pmfs():
    _assert_valid(pmf_to_quantized_cdf(np.zeros(10)), 10)            # all zero -> uniform
    np.testing.assert_array_equal(np.diff(pmf_to_quantized_cdf(np.zeros(4))), [16384] * 4)
    one_hot = np.zeros(1024)
    one_hot[500] = 1.0
    cdf = pmf_to_quantized_cdf(one_hot)
    _assert_valid(cdf, 1024)
    assert np.diff(cdf)[500] == TOTAL_FREQUENCY - 1023
    _assert_valid(pmf_to_quantized_cdf([1e-300, 1.0, 1e-20]), 3)
    _assert_valid(pmf_to_quantized_cdf(np.full(7, 3.0)), 7)          # not normalised: clipped to 1


def test_rule_on_hand_worked_examples():
    # floor shares [1, 1, 1] of 4, remainders equal -> the lowest index gets the spare unit
    np.testing.assert_array_equal(quantize_weights([1, 1, 1], precision=2), [2, 1, 1])
    # largest remainder wins: 16 * [5, 3, 2] / 10 = [8, 4.8, 3.2] -> [8, 5, 3]
    np.testing.assert_array_equal(quantize_weights([5, 3, 2], precision=4), [8, 5, 3])
    # minimum frequency 1 taken from the largest: [15, 0, 0] -> [15, 1, 1] -> [14, 1, 1]
    np.testing.assert_array_equal(quantize_weights([1_000_000, 1, 1], precision=4), [14, 1, 1])
    # ties between the largest frequencies: the lower index gives first
    np.testing.assert_array_equal(quantize_weights([10, 10, 0, 0], precision=3), [3, 3, 1, 1])


def test_float_path_is_floor_of_fixed_point():
    rng = np.random.default_rng(7)
    pmf = rng.dirichlet(np.ones(300))
    weights = np.floor(pmf * 2.0**32).astype(np.int64)
    np.testing.assert_array_equal(pmf_to_quantized_cdf(pmf), weights_to_quantized_cdf(weights))
    assert cdf_mod.PMF_FIXED_POINT_BITS == 32


def test_quantisation_loss_is_small_for_a_smooth_pmf():
    x = np.arange(-200, 201)
    pmf = np.exp(-0.5 * (x / 40.0) ** 2)
    pmf /= pmf.sum()
    q = np.diff(pmf_to_quantized_cdf(pmf)) / TOTAL_FREQUENCY
    kl_bits = float(np.sum(pmf * np.log2(pmf / q)))
    entropy = float(-np.sum(pmf * np.log2(pmf)))
    assert kl_bits < 1e-3 * entropy


@pytest.mark.parametrize("bad", [[-1, 2], [2**46, 1]])
def test_bad_weights_are_rejected(bad):
    with pytest.raises(ValueError):
        quantize_weights(bad)


def test_bad_inputs_are_rejected():
    with pytest.raises(TypeError):
        quantize_weights([0.5, 0.5])
    with pytest.raises(ValueError):
        pmf_to_quantized_cdf([0.5, np.nan])
    with pytest.raises(ValueError):
        quantize_weights(np.ones(5, np.int64), precision=2)  # 5 symbols cannot fit a total of 4
    for bad in ([0, 3, 3, 65536], [1, 65536], [0, 65535], [0, 70000, 65536]):
        with pytest.raises(ValueError):
            check_quantized_cdf(bad)
