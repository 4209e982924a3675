"""resize_rgb (icm.common.resample): agreement with the NumPy restatement, golden values."""
import hashlib

import numpy as np
import pytest
from PIL import Image

from icm.common.errors import ConfigError
from icm.common.resample import FILTERS, filter_taps, resize_rgb, resize_rgb_reference


def textured(height, width, seed=0):
    i = np.arange(height, dtype=np.int64)[:, None, None]
    j = np.arange(width, dtype=np.int64)[None, :, None]
    c = np.arange(3, dtype=np.int64)[None, None, :]
    return (((i * 29 + j * 71 + c * 101 + seed) ^ (i * j * 3 + c)) % 256).astype(np.uint8)


SIZES = [((48, 23), (32, 24)), ((23, 48), (24, 32)), ((46, 48), (32, 24)), ((37, 53), (61, 19)),
         ((10, 13), (5, 78)), ((64, 64), (32, 32)), ((5, 5), (40, 33)), ((1, 9), (4, 2)), ((30, 40), (30, 17))]


@pytest.mark.parametrize("filter", sorted(FILTERS))
@pytest.mark.parametrize("in_size, out_size", SIZES)
def test_pillow_matches_reference(filter, in_size, out_size):
    rgb = textured(*in_size)
    height, width = out_size
    got = resize_rgb(rgb, width, height, filter)
    assert got.shape == (height, width, 3) and got.dtype == np.uint8
    assert np.array_equal(got, resize_rgb_reference(rgb, width, height, filter))


def test_passes_run_horizontal_first():
    rgb = textured(48, 23)
    one_pass_each = Image.fromarray(rgb).resize((24, 48), Image.Resampling.BICUBIC).resize(
        (24, 32), Image.Resampling.BICUBIC)
    assert np.array_equal(resize_rgb(rgb, 24, 32), np.asarray(one_pass_each))


def test_taps_sum_to_one_in_fixed_point():
    taps = filter_taps(640, 333, "bicubic")
    assert np.all(np.abs(taps.sum(axis=0) - (1 << 22)) <= 4)


def test_golden_values():
    """Exact output bytes, so that a machine or Pillow version that differs is noticed."""
    rgb = textured(97, 131, seed=5)
    digests = [hashlib.sha256(resize_rgb(rgb, w, h, f).tobytes()).hexdigest()[:16]
               for (w, h, f) in [(64, 48, "bicubic"), (200, 150, "bicubic"), (65, 49, "bilinear"),
                                 (33, 71, "box"), (50, 120, "nearest")]]
    assert digests == GOLDEN


GOLDEN = ['8fb5348c0de6ad83', 'ae8dd5d71d0cbaa7', '5e28d07328d72f0c', 'c5f222c618b48855', '3ddc181e539b9301']


def test_same_size_is_a_copy():
    rgb = textured(8, 9)
    out = resize_rgb(rgb, 9, 8)
    assert np.array_equal(out, rgb) and out is not rgb


def test_bad_requests():
    rgb = textured(8, 9)
    with pytest.raises(ConfigError, match="filter"):
        resize_rgb(rgb, 4, 4, "lanczos")
    with pytest.raises(ConfigError, match="width"):
        resize_rgb(rgb, 0, 4)
    with pytest.raises(ConfigError, match="height"):
        resize_rgb(rgb, 4, 2.5)
    with pytest.raises(ValueError):
        resize_rgb(rgb.astype(np.float32), 4, 4)
