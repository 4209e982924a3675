"""Tests for the exact normal CDF and the Gaussian integer tables (values and determinism)."""
import numpy as np
import pytest
from scipy.special import ndtr

from icm.common.entropy import exact_normal, gaussian_tables
from icm.common.entropy.gaussian_tables import (
    DEFAULT_SCALE_TABLE_Q16,
    MAX_BINS,
    gaussian_quantized_cdf,
    gaussian_table_set,
    gaussian_tables_digest,
    table_layout,
)

# SHA-256 of all CDFs, lows and shifts of the default table. It must never change: a change
# means encoders and decoders built from different versions would disagree.
EXPECTED_DIGEST = "d5248c5adab054060d78f009940d39bcb3d734954b6a75764c9c1485212c6fcd"


def test_normal_cdf_matches_scipy():
    den = 3 * 65536 + 7
    num = np.arange(-9 * den, 9 * den, 401)
    got = np.array([float(v) for v in exact_normal.normal_cdf_fixed(num, den)]) / 2.0**64
    np.testing.assert_allclose(got, ndtr(num / den), rtol=0, atol=5e-16)
    tail = (num / den < -3) & (num / den > -8)
    np.testing.assert_allclose(got[tail], ndtr(num[tail] / den), rtol=1e-6, atol=1e-19)


def test_normal_cdf_exact_points_and_symmetry():
    one = 1 << exact_normal.FRACTION_BITS
    assert exact_normal.normal_cdf_fixed([0], 5)[0] == one // 2
    pos = exact_normal.normal_cdf_fixed(np.arange(1, 2000), 97)
    neg = exact_normal.normal_cdf_fixed(-np.arange(1, 2000), 97)
    assert all(int(p) + int(n) == one for p, n in zip(pos, neg))
    assert all(int(a) <= int(b) for a, b in zip(pos[:-1], pos[1:]))
    assert exact_normal.normal_cdf_fixed([10**6], 1)[0] == one


def test_scale_table_is_the_log_spaced_table():
    expected = np.exp(np.linspace(np.log(0.11), np.log(256), 64)) * 65536
    assert len(DEFAULT_SCALE_TABLE_Q16) == 64
    np.testing.assert_allclose(DEFAULT_SCALE_TABLE_Q16, expected, atol=0.5 + 1e-6)


def test_tables_are_valid_and_within_coder_limits():
    tables = gaussian_table_set()
    assert len(tables) == 64
    for j, (scale, cdf) in enumerate(zip(DEFAULT_SCALE_TABLE_Q16, tables.cdfs)):
        bins, shift, low = table_layout(scale)
        assert cdf.size == bins + 2 <= 1025 and bins <= MAX_BINS
        assert cdf[0] == 0 and cdf[-1] == 1 << 16 and np.all(np.diff(cdf) >= 1)
        assert tables.lows[j] == low and tables.shifts[j] == shift
        s = scale / 65536
        assert low <= -4.5 * s + 1 and low + (bins << shift) - 1 >= 4.5 * s - 1
        assert (shift > 0) == (s > 113)


def test_tables_match_the_float_gaussian():
    for scale in DEFAULT_SCALE_TABLE_Q16[::9]:
        bins, shift, low = table_layout(scale)
        s = scale / 65536
        edges = (low + (np.arange(bins + 1) << shift) - 0.5) / s
        p = np.diff(ndtr(edges))
        q = np.diff(gaussian_quantized_cdf(scale))[:-1] / 65536.0
        # each symbol moves by less than one unit plus what the minimum frequencies take
        assert np.abs(p - q).max() < (bins + 2) / 65536


def test_tables_are_deterministic():
    first = gaussian_tables_digest()
    gaussian_tables.gaussian_table_set.cache_clear()
    exact_normal._anchor_tables.cache_clear()
    assert gaussian_tables_digest() == first == EXPECTED_DIGEST


@pytest.mark.parametrize("table", [(), (5, 5), (0, 10), (10, 3), (1 << 27,)])
def test_bad_scale_tables_are_rejected(table):
    with pytest.raises(ValueError):
        gaussian_tables.check_scale_table(table)
