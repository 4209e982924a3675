"""Decompression bombs: a VVC payload of many copies of one access unit is refused quickly and cheaply.

Each copy is a whole intra picture with its parameter sets, so a decoder that decodes everything writes one
picture per copy. The decoders must stop after the second picture and never read more than one picture back.

``python tests/test_robustness_bomb.py OUT.icm [COPIES]`` writes such a stream (vvc-image, 1280x720 grey picture;
652 copies make a 159 KB stream) for measurements: ``/usr/bin/time -v .venv/bin/icm-dec -i OUT.icm``.
"""
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from icm.common.bitstream import Bitstream, new_parameter_set, serialize
from icm.common.errors import BitstreamError
from icm.common.innercodec import VtmDecoder, VvencFfmpegCodec, YuvPlanes
from icm.common.innercodec.process import OutputLimit, run_tool

WIDTH, HEIGHT = 1280, 720
COPIES = 652  # 652 x 244 bytes: the 159 KB stream of the report
TIME_LIMIT_S = 5.0
BIN = Path(sys.executable).parent


def grey_access_unit(width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """One intra picture (with its parameter sets) of a flat grey picture, at QP 63: a few hundred bytes."""
    chroma = np.full(((height + 1) // 2, (width + 1) // 2), 512, np.uint16)
    planes = YuvPlanes(np.full((height, width), 512, np.uint16), chroma, chroma.copy())
    return VvencFfmpegCodec(preset="faster").encode(planes, 63)


def bomb_stream(copies: int = COPIES, width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """A vvc-image ICM stream whose VVC payload is ``copies`` copies of one access unit."""
    ps = new_parameter_set("vvc-image", width, height, ps_inner_codec_id=1, ps_coded_bit_depth_minus8=2,
                           ps_chroma_format_idc=1, ps_colour_matrix_idc=1, ps_full_range_flag=0, ps_qp=63)
    bitstream = Bitstream(ps)
    bitstream.add_payload(grey_access_unit(width, height) * copies, payload_type=1)
    bitstream.output_hash = dict(dh_hash_type=0, dh_output_type=0, dh_hash=bytes(16))
    return serialize(bitstream)


class PeakFolderSize:
    """Samples the total size of the files under a folder in a background thread; ``peak`` is the largest."""

    def __init__(self, folder: Path, interval_s: float = 0.01):
        self.folder, self.interval_s, self.peak = folder, interval_s, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            total = 0
            for root, _, files in os.walk(self.folder):
                for name in files:
                    try:
                        total += os.path.getsize(os.path.join(root, name))
                    except OSError:
                        pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def access_unit():
    return grey_access_unit()


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Temporary files of the code under test go to a folder of their own, whose size is watched."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def one_picture_bytes(width: int = WIDTH, height: int = HEIGHT) -> int:
    return 3 * width * height  # 4:2:0, 2 bytes a sample


def test_ffmpeg_decoder_refuses_a_bomb_quickly(access_unit, private_tmp):
    codec = VvencFfmpegCodec()
    assert codec.decode(access_unit, WIDTH, HEIGHT).y.shape == (HEIGHT, WIDTH)   # one copy is a good payload
    start = time.monotonic()
    with PeakFolderSize(private_tmp) as disk:
        with pytest.raises(BitstreamError, match="more than one picture"):
            codec.decode(access_unit * COPIES, WIDTH, HEIGHT)
    assert time.monotonic() - start < TIME_LIMIT_S
    assert disk.peak <= 2 * one_picture_bytes() + 4096     # at most the first picture plus one
    assert not list(private_tmp.iterdir())                 # and nothing left behind


FAKE_DECODER_APP = """
import subprocess, sys, time
import imageio_ffmpeg
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
# like DecoderApp: decode every picture of the stream, one after another, into the output file
subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "vvc", "-i", args["-b"],
                "-f", "rawvideo", "-pix_fmt", "yuv420p10le", "-y", args["-o"]], check=True)
"""


def test_vtm_decoder_refuses_a_bomb_quickly(access_unit, private_tmp, tmp_path):
    program = tmp_path / "DecoderApp"
    program.write_text(f"#!{sys.executable}\n{FAKE_DECODER_APP}")
    program.chmod(0o755)
    decoder = VtmDecoder(decoder_app=program)
    start = time.monotonic()
    with PeakFolderSize(private_tmp) as disk:
        with pytest.raises(BitstreamError, match="more than one picture"):
            decoder.decode_picture(access_unit * COPIES, WIDTH, HEIGHT)
    assert time.monotonic() - start < TIME_LIMIT_S
    # the output file is watched and the program stopped once it holds more than one picture
    assert disk.peak <= 8 * one_picture_bytes() + len(access_unit) * COPIES
    assert not list(private_tmp.iterdir())


WRITE_FOREVER = """
import sys
with open(sys.argv[1], "wb") as out:
    while True:
        out.write(bytes(65536))
        out.flush()
"""


def test_run_tool_stops_a_program_whose_output_file_grows_too_large(tmp_path):
    out = tmp_path / "out.bin"
    writer = tmp_path / "writer.py"
    writer.write_text(WRITE_FOREVER)
    # a wrapper whose child writes forever: the whole process group is stopped
    wrapper = f"import subprocess, sys; subprocess.run([sys.executable, {str(writer)!r}, sys.argv[1]])"
    start = time.monotonic()
    with pytest.raises(BitstreamError, match="^too much output$"):
        run_tool([sys.executable, "-c", wrapper, str(out)], what="writer", timeout_s=60, error_class=BitstreamError,
                 output_limit=OutputLimit(out, 1 << 20, "too much output"))
    assert time.monotonic() - start < TIME_LIMIT_S
    size = out.stat().st_size
    time.sleep(0.3)
    assert out.stat().st_size == size < 64 << 20     # stopped, child included
    small = tmp_path / "small.bin"
    completed = run_tool([sys.executable, "-c", "import sys; open(sys.argv[1], 'wb').write(bytes(10))", str(small)],
                         what="writer", timeout_s=60, error_class=BitstreamError,
                         output_limit=OutputLimit(small, 10, "too much output"))
    assert completed.returncode == 0 and small.stat().st_size == 10


def test_icm_dec_refuses_a_bomb_with_a_one_line_error(tmp_path, private_tmp):
    stream = tmp_path / "bomb.icm"
    stream.write_bytes(bomb_stream())
    start = time.monotonic()
    result = subprocess.run([str(BIN / "icm-dec"), "-i", str(stream), "-o", str(tmp_path / "out.png")],
                            capture_output=True, text=True, timeout=120)
    assert time.monotonic() - start < TIME_LIMIT_S + 5    # the command's own start-up (torch import) included
    assert result.returncode == 4, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "more than one picture" in lines[0], result.stderr
    assert not (tmp_path / "out.png").exists()


if __name__ == "__main__":
    Path(sys.argv[1]).write_bytes(bomb_stream(int(sys.argv[2]) if len(sys.argv) > 2 else COPIES))
