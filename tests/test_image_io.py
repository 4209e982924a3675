"""read_image / write_png (icm.common.image_io)."""
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from icm.common import image_io
from icm.common.errors import InputError
from icm.common.image_io import read_image, write_png


def pattern(height=20, width=30):
    i, j = np.mgrid[0:height, 0:width]
    return np.stack([(i * 12) % 256, (j * 8) % 256, (i * j) % 256], axis=2).astype(np.uint8)


def png_with_header_only(path, width, height):
    """A PNG whose IHDR claims ``width x height`` but that holds no pixel data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def test_png_round_trip(tmp_path):
    rgb = pattern()
    write_png(tmp_path / "a.png", rgb)
    back = read_image(tmp_path / "a.png")
    assert back.dtype == np.uint8 and back.shape == (20, 30, 3)
    assert np.array_equal(back, rgb)
    assert sorted(os.listdir(tmp_path)) == ["a.png"]          # no temporary file left behind


def test_write_png_overwrites_atomically(tmp_path):
    target = tmp_path / "out.png"
    write_png(target, pattern())
    write_png(target, pattern(5, 7))
    assert read_image(target).shape == (5, 7, 3)
    assert sorted(os.listdir(tmp_path)) == ["out.png"]


def test_write_png_failures(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        write_png(tmp_path / "missing" / "a.png", pattern())
    with pytest.raises(ValueError):
        write_png(tmp_path / "a.png", pattern().astype(np.uint16))
    with pytest.raises(ValueError):
        write_png(tmp_path / "a.png", pattern()[:, :, 0])
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "CMYK", "1"])
def test_other_modes_become_rgb(tmp_path, mode):
    source = Image.fromarray(pattern()).convert(mode)
    path = tmp_path / ("a.tif" if mode == "CMYK" else "a.png")
    source.save(path)
    rgb = read_image(path)
    assert rgb.dtype == np.uint8 and rgb.shape == (20, 30, 3)
    if mode in ("RGBA",):
        assert np.array_equal(rgb, pattern())                 # alpha dropped, colour kept
    if mode in ("L", "LA", "1"):
        assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()


def test_rgba_alpha_is_dropped_not_composited(tmp_path):
    rgba = np.dstack([pattern(), np.zeros((20, 30), np.uint8)])   # fully transparent
    Image.fromarray(rgba).save(tmp_path / "t.png")
    assert np.array_equal(read_image(tmp_path / "t.png"), pattern())


def test_16bit_grey_is_reduced_to_8bit(tmp_path):
    grey16 = (np.arange(20 * 30, dtype=np.uint16).reshape(20, 30) * 109).astype(np.uint16)
    Image.fromarray(grey16).save(tmp_path / "g16.png")
    rgb = read_image(tmp_path / "g16.png")
    expected = np.minimum((grey16.astype(np.int64) + 128) >> 8, 255)
    assert np.array_equal(rgb[..., 0], expected) and np.array_equal(rgb[..., 2], expected)


def test_jpeg_and_exif_orientation_not_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6                                        # "rotate 90 CW to display"
    Image.fromarray(pattern(20, 30)).save(tmp_path / "r.jpg", exif=exif, quality=95)
    rgb = read_image(tmp_path / "r.jpg")
    assert rgb.shape == (20, 30, 3)                         # stored raster, not rotated
    assert np.abs(rgb.astype(int) - pattern(20, 30)).mean() < 12


def test_real_photo(shared):
    path = sorted((shared / "data" / "coco-val-dev" / "images").glob("*.jpg"))[0]
    rgb = read_image(path)
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8 and rgb.shape[0] > 100


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_image(tmp_path / "nope.png")


def test_folder(tmp_path):
    with pytest.raises(InputError, match="not a regular file"):
        read_image(tmp_path)


def test_not_an_image(tmp_path):
    (tmp_path / "x.png").write_text("hello, I am text\n")
    with pytest.raises(InputError, match="not an image"):
        read_image(tmp_path / "x.png")


def test_truncated_image(tmp_path):
    Image.fromarray(pattern(200, 300)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as info:
        read_image(tmp_path / "cut.png")
    assert "\n" not in str(info.value)


def test_absurd_size_rejected_from_header(tmp_path):
    png_with_header_only(tmp_path / "huge.png", 20000, 10)
    with pytest.raises(InputError, match="too large"):
        read_image(tmp_path / "huge.png")
    png_with_header_only(tmp_path / "bomb.png", 16000, 16000)   # also beyond Pillow's own limit
    with pytest.raises(InputError, match="too large"):
        read_image(tmp_path / "bomb.png")


def test_pixel_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(image_io, "MAX_PIXELS", 100)
    write_png(tmp_path / "a.png", pattern(11, 10))
    with pytest.raises(InputError, match="too large"):
        read_image(tmp_path / "a.png")
