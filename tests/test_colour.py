"""RGB <-> Y'CbCr 4:2:0 conversion (icm.common.colour): exactness, accuracy, determinism."""
import hashlib

import numpy as np
import pytest

from icm.common.colour import MATRICES, coefficient_tables, rgb_to_yuv420, yuv420_to_rgb
from icm.common.image_io import read_image


def synthetic_rgb(height: int, width: int) -> np.ndarray:
    """A deterministic, textured test image (pure integer arithmetic, no RNG)."""
    i = np.arange(height, dtype=np.int64)[:, None, None]
    j = np.arange(width, dtype=np.int64)[None, :, None]
    c = np.arange(3, dtype=np.int64)[None, None, :]
    return (((i * 37 + j * 91 + c * 53) ^ (i * j + c)) % 256).astype(np.uint8)


def float_reference(rgb: np.ndarray, bit_depth: int, matrix: str, full_range: bool):
    """Full-resolution Y, Cb, Cr in floating point (for accuracy checks only)."""
    kr, kb = (float(k) for k in MATRICES[matrix])
    kg = 1 - kr - kb
    r, g, b = (rgb[..., k].astype(np.float64) for k in range(3))
    luma = kr * r + kg * g + kb * b
    pb, pr = (b - luma) / (2 * (1 - kb)), (r - luma) / (2 * (1 - kr))
    if full_range:
        scale = (2 ** bit_depth - 1) / 255
        return luma * scale, pb * scale + 2 ** (bit_depth - 1), pr * scale + 2 ** (bit_depth - 1)
    shift = 2 ** (bit_depth - 8)
    return (16 + luma * 219 / 255) * shift, (128 + pb * 224 / 255) * shift, (128 + pr * 224 / 255) * shift


def test_documented_10bit_bt601_limited_tables():
    tables = coefficient_tables(10, "bt601", False)
    assert tables["forward"] == ((67315, 132155, 25665), (-38856, -76282, 115138), (115137, -96413, -18724))
    assert tables["inverse"] == ((19077, 0, 26149), (19077, -6419, -13320), (19077, 33050, 0))
    assert (tables["y_off"], tables["c_off"], tables["max_value"]) == (64, 512, 1023)


@pytest.mark.parametrize("matrix", sorted(MATRICES))
@pytest.mark.parametrize("full_range", [False, True])
@pytest.mark.parametrize("bit_depth", [8, 10, 12])
def test_rows_sum_exactly(matrix, full_range, bit_depth):
    forward = coefficient_tables(bit_depth, matrix, full_range)["forward"]
    assert sum(forward[1]) == 0 and sum(forward[2]) == 0


@pytest.mark.parametrize("matrix", sorted(MATRICES))
@pytest.mark.parametrize("full_range", [False, True])
def test_known_values(matrix, full_range):
    black_white = np.array([[[0, 0, 0], [0, 0, 0]], [[255, 255, 255], [255, 255, 255]]], dtype=np.uint8)
    y, u, v = rgb_to_yuv420(black_white[:1], 10, matrix, full_range)
    assert y.tolist() == [[0 if full_range else 64] * 2] and u.tolist() == v.tolist() == [[512]]
    y, u, v = rgb_to_yuv420(black_white[1:], 10, matrix, full_range)
    assert y.tolist() == [[1023 if full_range else 940] * 2] and u.tolist() == v.tolist() == [[512]]


def test_red_bt601_limited_10bit():
    # Y = 64 + 876*0.299 = 325.92; Cb = 512 - 896*0.299/1.772 = 360.82; Cr = 512 + 448 = 960
    y, u, v = rgb_to_yuv420(np.array([[[255, 0, 0]]], dtype=np.uint8))
    assert (int(y[0, 0]), int(u[0, 0]), int(v[0, 0])) == (326, 361, 960)


@pytest.mark.parametrize("matrix", sorted(MATRICES))
@pytest.mark.parametrize("full_range", [False, True])
def test_forward_matches_rounded_real_values(matrix, full_range):
    # Single pixels of many colours: 4:2:0 of a 1x1 picture is the pixel itself.
    colours = synthetic_rgb(64, 64).reshape(-1, 1, 1, 3)
    ref_y, ref_u, ref_v = float_reference(colours[:, 0, 0][:, None, :], 10, matrix, full_range)
    for index in range(0, len(colours), 7):
        y, u, v = rgb_to_yuv420(colours[index], 10, matrix, full_range)
        for got, want in ((y, ref_y), (u, ref_u), (v, ref_v)):
            assert abs(int(got[0, 0]) - float(want[index, 0])) <= 0.5 + 1e-3


@pytest.mark.parametrize("matrix", sorted(MATRICES))
@pytest.mark.parametrize("full_range", [False, True])
@pytest.mark.parametrize("bit_depth", [10, 12, 16])
def test_grey_is_neutral_and_exact(matrix, full_range, bit_depth):
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2).repeat(2, axis=0)
    y, u, v = rgb_to_yuv420(ramp, bit_depth, matrix, full_range)
    c_off = 1 << (bit_depth - 1)
    assert (u == c_off).all() and (v == c_off).all()
    assert np.array_equal(yuv420_to_rgb(y, u, v, bit_depth, matrix, full_range), ramp)
    assert np.array_equal(yuv420_to_rgb(y, None, None, bit_depth, matrix, full_range), ramp)


@pytest.mark.parametrize("height, width", [(1, 1), (1, 5), (2, 3), (23, 37), (24, 37), (23, 36)])
def test_odd_sizes(height, width):
    rgb = synthetic_rgb(height, width)
    y, u, v = rgb_to_yuv420(rgb)
    assert y.shape == (height, width) and y.dtype == np.uint16
    assert u.shape == v.shape == ((height + 1) // 2, (width + 1) // 2) and u.dtype == np.uint16
    for upsampling in ("bilinear", "nearest"):
        assert yuv420_to_rgb(y, u, v, upsampling=upsampling).shape == (height, width, 3)


def test_odd_edge_is_replicated_before_averaging():
    rgb = np.zeros((1, 3, 3), dtype=np.uint8)
    rgb[0, 2] = (255, 0, 0)                 # the last, unpaired column is pure red
    _, u, v = rgb_to_yuv420(rgb)
    _, u_red, v_red = rgb_to_yuv420(np.full((2, 2, 3), (255, 0, 0), dtype=np.uint8))
    assert (u[0, 1], v[0, 1]) == (u_red[0, 0], v_red[0, 0])


def test_bilinear_upsampling_weights():
    # One chroma sample of 64 in a zero 2x2 chroma plane, upsampled at scale 16. Per axis the
    # output weights of that sample are 4/4 (edge: the sample and its replica), 3/4, 1/4, 0, so
    # in 2-D the outer product (4, 3, 1, 0) x (4, 3, 1, 0) / 16: 9/16 -> 576, 3/16 -> 192, ...
    from icm.common.colour import _upsample_bilinear16
    chroma = np.zeros((2, 2), dtype=np.int64)
    chroma[0, 0] = 64
    up = _upsample_bilinear16(chroma, 4, 4)
    assert up.tolist() == [[1024, 768, 256, 0], [768, 576, 192, 0], [256, 192, 64, 0], [0, 0, 0, 0]]


def test_deterministic_golden_values():
    """Pins the exact output bytes: any machine or version must reproduce them."""
    rgb = synthetic_rgb(37, 53)
    y, u, v = rgb_to_yuv420(rgb)
    forward = hashlib.sha256(y.astype("<u2").tobytes() + u.astype("<u2").tobytes() + v.astype("<u2").tobytes())
    back = yuv420_to_rgb(y, u, v)
    assert forward.hexdigest()[:16] == GOLDEN_FORWARD
    assert hashlib.sha256(back.tobytes()).hexdigest()[:16] == GOLDEN_INVERSE
    assert np.array_equal(rgb_to_yuv420(rgb)[0], y) and np.array_equal(yuv420_to_rgb(y, u, v), back)


GOLDEN_FORWARD = "f88c8f88b28663da"
GOLDEN_INVERSE = "f7ea628de71a08cc"


def test_round_trip_psnr_on_a_real_photo(shared):
    rgb = read_image(shared / "data" / "kodak" / "kodim03.png")
    y, u, v = rgb_to_yuv420(rgb)
    back = yuv420_to_rgb(y, u, v)
    mse = np.mean((rgb.astype(np.float64) - back) ** 2)
    assert 10 * np.log10(255 ** 2 / mse) > 40


def test_bad_arguments():
    rgb = synthetic_rgb(4, 4)
    with pytest.raises(ValueError):
        rgb_to_yuv420(rgb.astype(np.uint16))
    with pytest.raises(ValueError):
        rgb_to_yuv420(rgb, matrix="bt2020")
    with pytest.raises(ValueError):
        rgb_to_yuv420(rgb, bit_depth=7)
    y, u, v = rgb_to_yuv420(rgb)
    with pytest.raises(ValueError):
        yuv420_to_rgb(y, u[:1], v)
    with pytest.raises(ValueError):
        yuv420_to_rgb(y, u, None)
    with pytest.raises(ValueError):
        yuv420_to_rgb(y + 1024, u, v)
    with pytest.raises(ValueError):
        yuv420_to_rgb(y, u, v, upsampling="cubic")
