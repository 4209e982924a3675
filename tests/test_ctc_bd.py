"""BD-rate / BD-accuracy against known values (icm.ctc_scripts.ctc.bd)."""
import math
import warnings

import numpy as np
import pytest

from icm.ctc_scripts.ctc.bd import bd_metric, bd_metric_detail, bd_rate, bd_rate_detail

# The test data of the bjontegaard package (FAU-LMS/bjontegaard, example_usage.py: x265 presets) and the
# values that package computes (its "pchip" matches the JVET-T2010 spreadsheet to 10 decimals).
EXAMPLES = [
    (([9487.76, 4593.60, 2486.44, 1358.24], [40.037, 38.615, 36.845, 34.851],
      [9787.80, 4469.00, 2451.52, 1356.24], [40.121, 38.651, 36.970, 34.987]),
     {"pchip": (-4.417485350589045, 0.11969278542479489), "cubic": (-4.420462706125383, 0.12040941911451103)}),
    (([82472.76, 26875.24, 9487.76, 4593.6], [43.825, 41.404, 40.037, 38.615],
      [99896.96, 33952.04, 9787.8, 4469.0], [44.731, 41.875, 40.121, 38.651]),
     {"pchip": (-4.47218200276197, 0.08887484704747745), "cubic": (-4.699437548068142, 0.09540440289143115)}),
    (([82472.76, 26875.24, 9487.76, 4593.6, 3600, 2900], [43.825, 41.404, 40.037, 38.615, 36.5, 35.1],
      [99896.96, 33952.04, 9787.8, 4469.0, 4040, 3300], [44.731, 41.875, 40.121, 38.651, 37, 36.5]),
     {"pchip": (-2.9528024116427964, 0.08953590194998828), "cubic": (-0.6392886208794191, 0.10358085154995482)}),
]


@pytest.mark.parametrize("case", range(len(EXAMPLES)))
@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_published_examples(case, method):
    data, expected = EXAMPLES[case]
    rate, metric = expected[method]
    assert bd_rate(*data, method=method) == pytest.approx(rate, abs=1e-9)
    assert bd_metric(*data, method=method) == pytest.approx(metric, abs=1e-9)


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_against_bjontegaard_package(method):
    bjontegaard = pytest.importorskip("bjontegaard")
    rng = np.random.default_rng(1)
    for _ in range(20):
        rate_a = np.sort(rng.uniform(0.05, 1.0, 4))
        acc_a = np.sort(rng.uniform(10, 25, 4))
        rate_t = rate_a * rng.uniform(0.8, 1.1)
        acc_t = np.sort(acc_a + rng.uniform(-1, 1, 4))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the package warns about small overlaps
            expected_rate = bjontegaard.bd_rate(rate_a, acc_a, rate_t, acc_t, method=method, min_overlap=0)
            expected_metric = bjontegaard.bd_psnr(rate_a, acc_a, rate_t, acc_t, method=method, min_overlap=0)
        if math.isfinite(expected_rate) and not -99.0 <= expected_rate <= 9900.0:
            expected_rate = float("nan")  # beyond a 100x rate ratio the fits have diverged: we give NaN
        assert bd_rate(rate_a, acc_a, rate_t, acc_t, method) == pytest.approx(expected_rate, abs=1e-9, nan_ok=True)
        assert bd_metric(rate_a, acc_a, rate_t, acc_t, method) == pytest.approx(expected_metric, abs=1e-9,
                                                                               nan_ok=True)


@pytest.mark.parametrize("method", ["pchip", "cubic"])
@pytest.mark.parametrize("factor", [0.8, 0.5, 1.25])
def test_constant_rate_factor(method, factor):
    rates = np.array([0.08, 0.18, 0.37, 0.68, 1.1, 1.7])
    accuracy = np.array([17.0, 20.2, 21.8, 23.3, 23.9, 24.2])
    assert bd_rate(rates, accuracy, rates * factor, accuracy, method) == pytest.approx(100 * (factor - 1), abs=1e-9)
    # Accuracy linear in log10(rate): shifting the rate by a factor shifts the accuracy by slope * log10(1/factor).
    slope = 4.0
    linear = 10 + slope * np.log10(rates)
    assert bd_metric(rates, linear, rates * factor, linear, method) == pytest.approx(
        -slope * math.log10(factor), abs=1e-9)
    assert bd_rate(rates, linear, rates * factor, linear, method) == pytest.approx(100 * (factor - 1), abs=1e-9)


def test_identical_curves_and_antisymmetry():
    rates, accuracy = [0.1, 0.2, 0.4, 0.8], [12.0, 16.0, 19.0, 20.5]
    assert bd_rate(rates, accuracy, rates, accuracy) == pytest.approx(0.0, abs=1e-12)
    assert bd_metric(rates, accuracy, rates, accuracy) == pytest.approx(0.0, abs=1e-12)
    other_rates, other_accuracy = [0.07, 0.15, 0.33, 0.7], [12.5, 16.5, 19.2, 20.9]
    forward = bd_rate(rates, accuracy, other_rates, other_accuracy)
    backward = bd_rate(other_rates, other_accuracy, rates, accuracy)
    assert (1 + forward / 100) * (1 + backward / 100) == pytest.approx(1.0, abs=1e-12)
    assert bd_metric(rates, accuracy, other_rates, other_accuracy) == pytest.approx(
        -bd_metric(other_rates, other_accuracy, rates, accuracy), abs=1e-12)


def test_order_of_points_does_not_matter():
    data = EXAMPLES[0][0]
    shuffled = [list(reversed(v)) for v in data]
    assert bd_rate(*shuffled) == pytest.approx(bd_rate(*data), abs=1e-12)


def test_no_overlap_is_nan_with_warning():
    result = bd_rate_detail([0.1, 0.2, 0.4], [10, 12, 14], [0.1, 0.2, 0.4], [20, 22, 24])
    assert math.isnan(result.value) and result.overlap == 0
    assert any("do not overlap" in w for w in result.warnings)


def test_small_overlap_warns():
    result = bd_rate_detail([0.1, 0.2, 0.4], [10, 12, 14], [0.1, 0.2, 0.4], [13, 15, 17], min_overlap=0.5)
    assert math.isfinite(result.value)
    assert result.overlap == pytest.approx(1 / 7)
    assert any("small overlap" in w for w in result.warnings)
    assert not bd_rate_detail(*EXAMPLES[0][0], min_overlap=0.5).warnings


def test_non_monotonic_curve_uses_pareto_front_and_warns():
    rates, accuracy = [0.1, 0.2, 0.4, 0.8], [12.0, 16.0, 15.5, 20.0]  # the 0.4 point is worse than the 0.2 one
    detail = bd_rate_detail(rates, accuracy, rates, accuracy)
    assert any("not monotonic" in w and "0.4" in w for w in detail.warnings)
    assert detail.value == pytest.approx(0.0, abs=1e-12)
    front = bd_rate([0.1, 0.2, 0.8], [12.0, 16.0, 20.0], [0.08, 0.16, 0.64], [12.0, 16.0, 20.0])
    assert bd_rate(rates, accuracy, [0.08, 0.16, 0.64], [12.0, 16.0, 20.0]) == pytest.approx(front, abs=1e-12)
    metric = bd_metric_detail(rates, accuracy, rates, accuracy)
    assert metric.value == pytest.approx(0.0, abs=1e-12) and metric.warnings


def test_too_few_points():
    result = bd_rate_detail([0.1], [10.0], [0.1, 0.2], [10.0, 12.0])
    assert math.isnan(result.value) and result.warnings
    two = bd_rate_detail([0.1, 0.2], [10.0, 12.0], [0.08, 0.16], [10.0, 12.0], method="cubic")
    assert two.value == pytest.approx(-20.0) and any("lower degree" in w for w in two.warnings)


def test_diverging_fit_gives_nan_not_an_error():
    # Rates a factor 10^30 apart: no meaningful BD-rate, and no overflow either.
    result = bd_rate_detail([0.1, 0.2, 0.4, 0.8], [20.0, 21.0, 22.0, 23.0], [1e29, 2e29, 4e29, 8e29],
                            [20.0, 21.0, 22.0, 23.0], method="cubic")
    assert math.isnan(result.value) and any("diverge" in w for w in result.warnings)
    assert bd_rate([0.1, 0.2], [20.0, 21.0], [5.0, 10.0], [20.0, 21.0]) == pytest.approx(4900.0)
