"""VVC through the ffmpeg binary of ``imageio-ffmpeg``: VVenC (``libvvenc``) to encode, ffmpeg's
native ``vvc`` decoder to decode.

Encoding (one intra picture, the padded 4:2:0 10-bit planes on stdin)::

    ffmpeg -hide_banner -nostdin -loglevel error -f rawvideo -pix_fmt yuv420p10le -s PWxPH -r 1
           -i - -frames:v 1 -c:v libvvenc -preset PRESET -qp QP -qpa 0 [-threads N]
           [-vvenc-params k=v:k=v] -f vvc -y out.266

The elementary stream goes to a file, never to stdout: VVenC prints its configuration
warnings on stdout, which would corrupt a piped stream. ``-qpa 0`` switches off perceptual QP
adaptation, so ``-qp`` is the picture's base QP. ffmpeg's wrapper gives VVenC an output buffer of
``PW*PH`` bytes, so one picture cannot exceed 8 bits per padded pixel (reached only at very low
QP on detailed content: e.g. QP 0 and 4 on the 428x640 coco-val-dev photo 000000000776.jpg);
the encoder then fails with "Error submitting video frame to the encoder" or "Generic error in
an external library", and the InnerCodecError message names this likely cause.

Decoding (payload on stdin, y4m output so that size and format are checked)::

    ffmpeg -hide_banner -nostdin -loglevel error -xerror [-threads N] -max_pixels M -f vvc -i -
           -frames:v 2 -strict -1 -f yuv4mpegpipe -y out.y4m

The decoded output is bounded before anything is read (decompression bombs: a payload of many copies of
one access unit): ``-frames:v 2`` stops ffmpeg after the first picture plus one, ``-max_pixels`` (the
expected ``PW x PH`` plus a margin of 128 per side) refuses a larger picture before it is decoded, and
the y4m file is only read when it holds exactly one picture of the expected size.

The ffmpeg executable is ``imageio_ffmpeg.get_ffmpeg_exe()`` (which honours
``IMAGEIO_FFMPEG_EXE``) unless one is configured. A missing executable, or one without
``libvvenc`` (for encoding) or the ``vvc`` decoder, is a ResourceError.
"""
from __future__ import annotations

import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import BitstreamError, ConfigError, InnerCodecError, ResourceError
from .base import InnerCodec, VvcDecoder
from .process import run_tool
from .rawyuv import pack_yuv420p10le, read_y4m_single_picture

PRESETS = ("faster", "fast", "medium", "slow", "slower")
DEFAULT_PRESET = "medium"
DEFAULT_ENCODE_TIMEOUT_S = 600.0
DEFAULT_DECODE_TIMEOUT_S = 60.0
_PROBE_TIMEOUT_S = 30.0
MAX_PIXELS_MARGIN = 128  # per side: ffmpeg may count a width aligned up for its frame buffers
_MAX_PIXELS_REFUSAL = re.compile(r"Picture size (\d+)x(\d+) exceeds specified max pixel count")


def find_ffmpeg(explicit: str | os.PathLike | None = None) -> str:
    """Path of the ffmpeg executable: ``explicit`` if given, else imageio-ffmpeg's binary."""
    if explicit is None:
        try:
            import imageio_ffmpeg
            explicit = imageio_ffmpeg.get_ffmpeg_exe()
        except Exception as exc:   # ImportError, or RuntimeError when no binary is found
            raise ResourceError(f"ffmpeg not found (imageio-ffmpeg: {' '.join(str(exc).split())[:160]})") from None
    path = Path(explicit)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise ResourceError(f"ffmpeg not found or not executable: {path}")
    return str(path)


def require_ffmpeg_component(ffmpeg: str, kind: str, name: str) -> None:
    """ResourceError unless ``ffmpeg`` has the encoder/decoder ``name`` (``kind``)."""
    if not _has_component(ffmpeg, kind, name):
        raise ResourceError(f"ffmpeg at {ffmpeg} has no {name} {kind} (an ffmpeg build with "
                            f"{'libvvenc' if kind == 'encoder' else 'the native vvc decoder'} is needed)")


@lru_cache(maxsize=None)
def _has_component(ffmpeg: str, kind: str, name: str) -> bool:
    completed = run_tool([ffmpeg, "-hide_banner", "-h", f"{kind}={name}"], what="ffmpeg probe",
                         timeout_s=_PROBE_TIMEOUT_S, error_class=ResourceError)
    text = completed.stdout + completed.stderr
    return f"{kind.capitalize()} {name} ".encode() in text


class FfmpegVvcDecoder(VvcDecoder):
    """ffmpeg's native VVC decoder (bit-exact for a conforming stream, any thread count)."""

    name = "ffmpeg"

    def __init__(self, ffmpeg_exe: str | os.PathLike | None = None, threads: int | None = None,
                 timeout_s: float = DEFAULT_DECODE_TIMEOUT_S):
        self.ffmpeg_exe = ffmpeg_exe
        self.threads = _check_threads(threads)
        self.timeout_s = timeout_s

    def decode_picture(self, data: bytes, width: int, height: int):
        ffmpeg = find_ffmpeg(self.ffmpeg_exe)
        require_ffmpeg_component(ffmpeg, "decoder", "vvc")
        thread_args = ["-threads", str(self.threads)] if self.threads is not None else []
        max_pixels = (width + MAX_PIXELS_MARGIN) * (height + MAX_PIXELS_MARGIN)
        with tempfile.TemporaryDirectory(prefix="icm-vvcdec-") as folder:
            out_path = os.path.join(folder, "out.y4m")
            try:
                run_tool([ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-xerror",
                          *thread_args, "-max_pixels", str(max_pixels), "-f", "vvc", "-i", "-",
                          "-frames:v", "2", "-strict", "-1", "-f", "yuv4mpegpipe", "-y", out_path],
                         what="VVC decoding (ffmpeg)", timeout_s=self.timeout_s,
                         error_class=BitstreamError, input_bytes=data)
            except BitstreamError as exc:
                larger = _MAX_PIXELS_REFUSAL.search(str(exc))
                if larger:
                    raise BitstreamError(f"decoded VVC picture is {larger[1]}x{larger[2]}, "
                                         f"expected {width}x{height}") from None
                raise
            if not os.path.exists(out_path):
                raise BitstreamError("VVC payload holds no decodable picture")
            with open(out_path, "rb") as stream:
                _, _, planes = read_y4m_single_picture(stream, os.fstat(stream.fileno()).st_size, width, height)
        return planes


class VvencFfmpegCodec(InnerCodec):
    """VVenC through ffmpeg (``libvvenc``); decoding with ffmpeg's ``vvc`` decoder by default.

    Configuration: ``preset`` (one of :data:`PRESETS`, default "medium"), ``threads`` (encoder
    threads, ffmpeg's ``-threads``; None = ffmpeg's default), ``vvenc_params`` (extra VVenC
    settings as a dict or a ``k=v:k=v`` string), ``ffmpeg_exe``, ``timeout_s`` (encoding),
    ``decoder`` (a :class:`VvcDecoder`; default :class:`FfmpegVvcDecoder` with the same ffmpeg).
    ``encode`` accepts ``preset``, ``threads`` and ``vvenc_params`` per call.
    """

    name = "vvenc"
    encode_options = ("preset", "threads", "vvenc_params")

    def __init__(self, preset: str = DEFAULT_PRESET, threads: int | None = None,
                 vvenc_params: dict | str | None = None, ffmpeg_exe: str | os.PathLike | None = None,
                 timeout_s: float = DEFAULT_ENCODE_TIMEOUT_S, decoder: VvcDecoder | None = None):
        super().__init__(decoder or FfmpegVvcDecoder(ffmpeg_exe=ffmpeg_exe))
        self.preset = check_preset(preset)
        self.threads = _check_threads(threads)
        self.vvenc_params = format_vvenc_params(vvenc_params)
        self.ffmpeg_exe = ffmpeg_exe
        self.timeout_s = timeout_s

    def describe(self) -> str:
        return f"vvenc preset {self.preset}"

    def _encode_padded(self, y: np.ndarray, u: np.ndarray, v: np.ndarray, qp: int, preset: str | None = None,
                       threads: int | None = None, vvenc_params: dict | str | None = None) -> bytes:
        preset = check_preset(preset) if preset is not None else self.preset
        threads = _check_threads(threads) if threads is not None else self.threads
        params = format_vvenc_params(vvenc_params) if vvenc_params is not None else self.vvenc_params
        ffmpeg = find_ffmpeg(self.ffmpeg_exe)
        require_ffmpeg_component(ffmpeg, "encoder", "libvvenc")
        height, width = y.shape
        optional = (["-threads", str(threads)] if threads is not None else []) + \
                   (["-vvenc-params", params] if params else [])
        with tempfile.TemporaryDirectory(prefix="icm-vvenc-") as folder:
            out_path = os.path.join(folder, "out.266")
            try:
                run_tool([ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error",
                          "-f", "rawvideo", "-pix_fmt", "yuv420p10le", "-s", f"{width}x{height}", "-r", "1",
                          "-i", "-", "-frames:v", "1", "-c:v", "libvvenc", "-preset", preset,
                          "-qp", str(qp), "-qpa", "0", *optional, "-f", "vvc", "-y", out_path],
                         what="VVenC encoding (ffmpeg libvvenc)", timeout_s=self.timeout_s,
                         error_class=InnerCodecError, input_bytes=pack_yuv420p10le(y, u, v))
            except InnerCodecError as exc:
                if "Error submitting video frame" in str(exc) or "external library" in str(exc):
                    raise InnerCodecError(
                        f"{exc} (a likely cause: the picture needs more than ffmpeg's libvvenc output "
                        f"buffer of {width * height} bytes, 8 bits per padded pixel; use a higher QP)") from None
                raise
            return Path(out_path).read_bytes() if os.path.exists(out_path) else b""


def check_preset(preset: str) -> str:
    """A VVenC preset name, else ConfigError."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown VVenC preset {preset!r}; use one of {', '.join(PRESETS)}")
    return preset


def format_vvenc_params(params: dict | str | None) -> str:
    """Extra VVenC settings as the ``k=v:k=v`` string of ffmpeg's ``-vvenc-params``."""
    if params is None or params == "" or params == {}:
        return ""
    if isinstance(params, str):
        items = [item for item in params.split(":") if item]
        if not all("=" in item and item.split("=", 1)[0] for item in items):
            raise ConfigError(f"vvenc_params must look like key=value:key=value, got {params!r}")
        return ":".join(items)
    if isinstance(params, dict):
        for key, value in params.items():
            if not str(key) or any(ch in f"{key}{value}" for ch in ":="):
                raise ConfigError(f"bad vvenc_params entry {key!r}={value!r}")
        return ":".join(f"{key}={value}" for key, value in params.items())
    raise ConfigError(f"vvenc_params must be a dict or a string, got {type(params).__name__}")


def _check_threads(threads: int | None) -> int | None:
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or not 0 <= threads <= 256:
        raise ConfigError(f"threads must be an integer in 0..256 (0 = automatic), got {threads!r}")
    return int(threads)
