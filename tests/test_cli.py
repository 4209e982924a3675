"""icm-enc / icm-dec as a user runs them: outputs, trace, and one-line errors with documented exit statuses."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def run(tool: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / tool), *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def assert_one_line_error(result: subprocess.CompletedProcess, status: int, words: str) -> None:
    assert result.returncode == status, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert words in lines[0], lines[0]


@pytest.fixture(scope="module")
def photo(shared) -> Path:
    return sorted((shared / "data" / "coco-val-dev" / "images").glob("*.jpg"))[3]


@pytest.fixture(scope="module")
def image_stream(photo, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "image.icm"
    result = run("icm-enc", "-i", str(photo), "-o", str(out), "--tool", "vvc-image", "--qp", "42",
                 "--preset", "faster")
    assert result.returncode == 0, result.stderr
    assert "bpp" in result.stdout and str(out) in result.stdout
    bits = int(result.stdout.split(" bits")[0].split()[-1])
    assert bits == 8 * out.stat().st_size
    return out


def test_decode_writes_png_and_checks_hash(image_stream, tmp_path):
    png = tmp_path / "decoded.png"
    result = run("icm-dec", "-i", str(image_stream), "-o", str(png))
    assert result.returncode == 0, result.stderr
    assert "matches the stream" in result.stdout and png.stat().st_size > 0
    again = run("icm-dec", "-i", str(image_stream))
    assert again.stdout.split("MD5 ")[1][:32] == result.stdout.split("MD5 ")[1][:32]


def test_feature_stream_gives_npz_and_detections(photo, tmp_path):
    stream, npz, dets = tmp_path / "f.icm", tmp_path / "f.npz", tmp_path / "d.json"
    assert run("icm-enc", "-i", str(photo), "-o", str(stream), "--tool", "vvc-feature", "--qp", "37",
               "--preset", "faster").returncode == 0
    result = run("icm-dec", "-i", str(stream), "-o", str(npz), "--detections", str(dets))
    assert result.returncode == 0, result.stderr
    import json

    import numpy as np
    assert sorted(np.load(npz).files) == ["geometry", "tensor0", "tensor1"]
    assert len(json.loads(dets.read_text())) > 0


def test_trace_prints_every_element(image_stream):
    result = run("icm-dec", "-i", str(image_stream), "--trace", "-")
    assert result.returncode == 0
    names = [line.split()[1] for line in result.stdout.splitlines() if line[:10].strip().isdigit()]
    for name in ("bs_magic", "bs_syntax_version_major", "ps_picture_width", "ps_qp", "unit_size", "pl_data", "dh_hash"):
        assert name in names


def test_hash_mismatch_is_reported(image_stream, tmp_path):
    data = bytearray(image_stream.read_bytes())
    data[-1] ^= 0x01  # last byte of the MD5
    bad = tmp_path / "bad.icm"
    bad.write_bytes(bytes(data))
    assert_one_line_error(run("icm-dec", "-i", str(bad)), 6, "hash mismatch")


def test_truncated_and_wrong_magic(image_stream, tmp_path):
    data = image_stream.read_bytes()
    truncated = tmp_path / "t.icm"
    truncated.write_bytes(data[: len(data) // 2])
    assert_one_line_error(run("icm-dec", "-i", str(truncated)), 4, "truncated")
    other = tmp_path / "m.icm"
    other.write_bytes(b"RIFF" + data[4:])
    assert_one_line_error(run("icm-dec", "-i", str(other)), 4, "magic")


def test_level_limit(image_stream, tmp_path):
    data = bytearray(image_stream.read_bytes())
    assert data[7] == 10  # ps_level_idc: after magic (4), the version byte, unit header (2)
    data[7] = 77
    bad = tmp_path / "level.icm"
    bad.write_bytes(bytes(data))
    assert_one_line_error(run("icm-dec", "-i", str(bad)), 5, "level_idc")


def test_bad_inputs(photo, tmp_path):
    out = str(tmp_path / "x.icm")
    assert_one_line_error(run("icm-enc", "-i", str(tmp_path / "missing.png"), "-o", out), 3, "not found")
    text = tmp_path / "text.png"
    text.write_text("not an image")
    assert_one_line_error(run("icm-enc", "-i", str(text), "-o", out), 3, "image")
    assert_one_line_error(run("icm-enc", "-i", str(photo), "-o", out, "--qp", "70"), 2, "--qp")
    assert_one_line_error(run("icm-enc", "-i", str(photo), "-o", out, "--tool", "nonsense"), 2, "nonsense")
    assert_one_line_error(run("icm-dec", "-i", str(tmp_path / "missing.icm")), 3, "not found")


def test_missing_external_programs_and_data(photo, tmp_path):
    out = str(tmp_path / "x.icm")
    assert_one_line_error(run("icm-enc", "-i", str(photo), "-o", out, "--inner-codec", "vtm",
                              env={"ICM_VTM_ENCODER": ""}), 7, "EncoderApp")
    assert_one_line_error(run("icm-enc", "-i", str(photo), "-o", out, env={"IMAGEIO_FFMPEG_EXE": "/no/ffmpeg"}),
                          7, "ffmpeg")
    assert_one_line_error(run("icm-enc", "-i", str(photo), "-o", out, "--tool", "vvc-feature",
                              env={"ICM_SHARED_DIR": str(tmp_path / "nothing")}), 7, "shared")


def test_feature_bit_depth_other_than_10_is_a_usage_error(photo, tmp_path):
    config = tmp_path / "twelve.yaml"
    config.write_text("feature_bit_depth: 12\n")
    result = run("icm-enc", "-i", str(photo), "-o", str(tmp_path / "f.icm"), "--tool", "vvc-feature", "-c",
                 str(config))
    assert_one_line_error(result, 2, "feature_bit_depth")
