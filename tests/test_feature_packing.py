import numpy as np
import pytest

from icm.anchors import feature_packing as packing


@pytest.mark.parametrize("channels,height,width", [(96, 20, 20), (7, 3, 5), (1, 4, 4), (128, 10, 10)])
def test_tile_untile_round_trip(channels, height, width):
    rng = np.random.default_rng(channels)
    samples = rng.integers(0, 1024, size=(channels, height, width)).astype(np.uint16)
    columns = packing.choose_tile_columns(channels, height, width)
    picture = packing.tile(samples, columns, fill=512)
    assert picture.shape == packing.tiled_size(channels, height, width, columns)
    np.testing.assert_array_equal(packing.untile(picture, channels, height, width, columns), samples)


def test_tiles_are_in_raster_order():
    samples = np.arange(6, dtype=np.uint16).reshape(6, 1, 1)
    picture = packing.tile(samples, 4, fill=99)
    np.testing.assert_array_equal(picture, [[0, 1, 2, 3], [4, 5, 99, 99]])


def test_normalise_denormalise_error_is_half_a_step():
    rng = np.random.default_rng(0)
    tensor = (rng.standard_normal((16, 8, 8)) * 3).astype(np.float32)
    samples, low, high = packing.normalise(tensor, 10)
    assert samples.min() == 0 and samples.max() == 1023
    restored = packing.denormalise(samples, low, high, 10)
    step = (high - low) / 1023
    assert np.abs(restored - tensor).max() <= 0.5 * step * 1.001


def test_constant_tensor():
    tensor = np.full((2, 3, 3), 4.5, dtype=np.float32)
    samples, low, high = packing.normalise(tensor, 10)
    np.testing.assert_array_equal(packing.denormalise(samples, low, high, 10), tensor)
