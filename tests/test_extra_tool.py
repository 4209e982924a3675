"""A coding tool that exists only in the tests (``tests/extra_tools/raw_rgb``: raw 8-bit RGB in one payload)
is registered through the registry alone (``ICM_EXTRA_TOOLS``) and round-trips through icm-enc and icm-dec."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from icm.common.config import DecoderConfig, EncoderConfig, load_config
from icm.common.errors import ConfigError
from icm.common.image_io import read_image, write_png
from icm.common.registry import EXTRA_TOOLS_ENV, ToolEntry, ToolRegistry, default_registry
from icm.common.output import HASH_CRC32

EXTRA = Path(__file__).resolve().parent / "extra_tools"
BIN = Path(sys.executable).parent


@pytest.fixture
def with_raw_rgb(monkeypatch):
    monkeypatch.syspath_prepend(str(EXTRA))
    monkeypatch.setenv(EXTRA_TOOLS_ENV, "raw_rgb")
    return default_registry()


def run(program: str, *args: str, extra: str = "raw_rgb") -> subprocess.CompletedProcess:
    env = {**os.environ, EXTRA_TOOLS_ENV: extra,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(EXTRA), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([str(BIN / program), *args], capture_output=True, text=True, timeout=120, env=env)


def picture() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (24, 32, 3), dtype=np.uint8)


def test_registered_through_the_registry_alone(with_raw_rgb):
    entry = with_raw_rgb.get("raw-rgb")
    assert entry.tool_id == 200 and with_raw_rgb.for_stream(200) is entry
    assert with_raw_rgb.names()[-1] == "raw-rgb" and "raw-rgb" not in ToolRegistry().names()
    config = load_config(EncoderConfig, None, tool="raw-rgb", channel_order="bgr")  # a setting of its own
    assert config.tool_settings == {"channel_order": "bgr"} and entry.resolve(config)["channel_order"] == "bgr"
    assert entry.summary_line(config) == "raw-rgb (bgr samples)"
    config.tool_settings["channel_order"] = "grb"
    with pytest.raises(ConfigError, match="unknown channel_order 'grb'"):
        entry.check(config)


def test_round_trip_in_process(with_raw_rgb):
    from icm.decoder.pipeline import decode_bytes
    from icm.encoder.pipeline import encode_picture

    rgb = picture()
    for order in ("rgb", "bgr"):
        encoded = encode_picture(rgb, load_config(EncoderConfig, None, tool="raw-rgb", channel_order=order))
        assert encoded.info == {"order": order}
        decoded = decode_bytes(encoded.data, DecoderConfig())
        assert decoded.tool == "raw-rgb" and decoded.hash_hex == encoded.decoded.digest(HASH_CRC32).hex()
        assert np.array_equal(decoded.output.picture, rgb)


def test_round_trip_through_icm_enc_and_icm_dec(tmp_path):
    source, stream, decoded = tmp_path / "in.png", tmp_path / "x.icm", tmp_path / "out.png"
    write_png(source, picture())
    assert "raw-rgb" in run("icm-enc", "--help").stdout
    result = run("icm-enc", "-i", str(source), "-o", str(stream), "--tool", "raw-rgb", "--channel-order", "bgr")
    assert result.returncode == 0, result.stderr
    assert "icm-enc: raw-rgb (bgr samples):" in result.stdout
    result = run("icm-dec", "-i", str(stream), "-o", str(decoded))
    assert result.returncode == 0, result.stderr
    assert "raw-rgb" in result.stdout and "matches the stream" in result.stdout
    assert np.array_equal(read_image(decoded), picture())
    # without the registration this decoder does not have the tool: a one-line error, exit status 4
    result = run("icm-dec", "-i", str(stream), extra="")
    assert result.returncode == 4 and result.stderr.strip().splitlines() == ["icm-dec: error: unknown tool id 200"]


def test_a_bad_registration_is_a_one_line_error(tmp_path):
    result = run("icm-enc", "--help", extra="no_such_module")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "ICM_EXTRA_TOOLS: cannot import 'no_such_module'" in result.stderr


def test_registry_refuses_clashes():
    registry = ToolRegistry()
    base = default_registry().get("vvc-image")
    registry.register(ToolEntry(**{**base.__dict__, "tool_id": None}))
    with pytest.raises(ConfigError, match="already taken"):
        registry.register(ToolEntry(**{**base.__dict__, "tool_id": None}))
    with pytest.raises(ConfigError, match="is vvc-feature's in the syntax"):
        registry.register(ToolEntry(**{**base.__dict__, "name": "other", "tool_id": 1}))
    with pytest.raises(ConfigError, match="not in the syntax's TOOLS table"):
        registry.register(ToolEntry(**{**base.__dict__, "name": "other", "tool_id": None}))
