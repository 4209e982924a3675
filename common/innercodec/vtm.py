"""The VVC reference software (VTM) as external programs.

The executables are not part of this project. Point to them with the constructor arguments or
the environment:

* ``ICM_VTM_ENCODER``: path of ``EncoderApp`` (required to encode with VTM);
* ``ICM_VTM_DECODER``: path of ``DecoderApp`` (only when decoding with VTM is asked for);
* ``ICM_VTM_CFG``: optional encoder configuration, e.g. VTM's ``cfg/encoder_intra_vtm.cfg``.

Encoding writes the padded picture (see :mod:`.base`) as a 10-bit ``.yuv`` file and runs::

    EncoderApp [-c CFG | ALL_INTRA] -i in.yuv -b out.bin -wdt PW -hgt PH -fr 1 -f 1 -q QP
               --InputBitDepth=10 --OutputBitDepth=10 --InternalBitDepth=10
               --InputChromaFormat=420 --ChromaFormatIDC=420 [extra arguments]

Without a configuration file, EncoderApp's own defaults have no coding structure ("Invalid GOP structure
given"), so the all-intra structure of VTM's ``encoder_intra_vtm.cfg`` is given on the command line
instead (:data:`ALL_INTRA_ARGS`: ``--IntraPeriod=1 --GOPSize=1 --DecodingRefreshType=1``, with which
EncoderApp sets up its intra-only GOP itself); every coding tool keeps EncoderApp's default.

Decoding with VTM runs ``DecoderApp -b in.bin -o rec.yuv -d 10`` and requires ``rec.yuv`` to be
exactly one ``PW x PH`` 4:2:0 10-bit picture. DecoderApp has no option to stop after a number of
pictures, so ``rec.yuv`` is watched while it runs: DecoderApp is stopped as soon as the file holds more
than one picture (a payload of many pictures, or of a larger one), and the file is only read when its
size is exactly one picture. By default, though, VTM-made payloads are decoded
with ffmpeg's VVC decoder like any other VVC payload (the payload does not say which encoder
made it).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..errors import BitstreamError, ConfigError, InnerCodecError, ResourceError
from .base import InnerCodec, VvcDecoder
from .process import OutputLimit, run_tool
from .rawyuv import pack_yuv420p10le, unpack_yuv420p10le, yuv420_frame_bytes
from .vvenc_ffmpeg import FfmpegVvcDecoder

ENV_ENCODER = "ICM_VTM_ENCODER"
ENV_DECODER = "ICM_VTM_DECODER"
ENV_CFG = "ICM_VTM_CFG"
DEFAULT_ENCODE_TIMEOUT_S = 3600.0
DEFAULT_DECODE_TIMEOUT_S = 120.0
# The coding structure of VTM's cfg/encoder_intra_vtm.cfg, given when no configuration file is.
ALL_INTRA_ARGS = ("--IntraPeriod=1", "--GOPSize=1", "--DecodingRefreshType=1")


def find_vtm_program(explicit: str | os.PathLike | None, env_name: str, label: str) -> str:
    """The VTM program ``label`` from ``explicit`` or ``$env_name``, else ResourceError."""
    location = str(explicit) if explicit else os.environ.get(env_name, "")
    if not location:
        raise ResourceError(f"VTM {label} not found: set {env_name} to its path")
    found = location if os.sep in location else shutil.which(location)
    if not found or not os.path.isfile(found) or not os.access(found, os.X_OK):
        raise ResourceError(f"VTM {label} not found or not executable: {location} (set {env_name} to its path)")
    return found


def find_vtm_cfg(explicit: str | os.PathLike | None) -> str | None:
    """The encoder configuration file from ``explicit`` or ``$ICM_VTM_CFG`` (None if neither)."""
    location = str(explicit) if explicit else os.environ.get(ENV_CFG, "")
    if not location:
        return None
    if not os.path.isfile(location):
        raise ResourceError(f"VTM configuration file not found: {location} "
                            f"(from {'argument' if explicit else ENV_CFG})")
    return location


class VtmDecoder(VvcDecoder):
    """VTM's DecoderApp."""

    name = "vtm"

    def __init__(self, decoder_app: str | os.PathLike | None = None, timeout_s: float = DEFAULT_DECODE_TIMEOUT_S):
        self.decoder_app = decoder_app
        self.timeout_s = timeout_s

    def decode_picture(self, data: bytes, width: int, height: int):
        program = find_vtm_program(self.decoder_app, ENV_DECODER, "DecoderApp")
        frame_bytes = yuv420_frame_bytes(width, height)
        with tempfile.TemporaryDirectory(prefix="icm-vtmdec-") as folder:
            folder = Path(folder)
            (folder / "in.bin").write_bytes(data)
            rec_path = folder / "rec.yuv"
            limit = OutputLimit(rec_path, frame_bytes, f"VVC payload decodes to more than one picture "
                                                      f"(or to one larger than {width}x{height}), expected 1")
            run_tool([program, "-b", folder / "in.bin", "-o", rec_path, "-d", "10"],
                     what="VVC decoding (VTM DecoderApp)", timeout_s=self.timeout_s,
                     error_class=BitstreamError, cwd=str(folder), output_limit=limit)
            decoded_bytes = rec_path.stat().st_size if rec_path.exists() else 0
            if decoded_bytes == 0:
                raise BitstreamError("VVC payload holds no decodable picture (VTM DecoderApp wrote none)")
            if decoded_bytes != frame_bytes:
                raise BitstreamError(f"VTM DecoderApp output ({decoded_bytes} bytes) is not one {width}x{height} "
                                     f"picture")
            decoded = rec_path.read_bytes()
        return unpack_yuv420p10le(decoded, width, height)


class VtmCodec(InnerCodec):
    """VTM EncoderApp for encoding; decoding with ffmpeg by default (``decoder=VtmDecoder()``
    for DecoderApp).

    Configuration: ``encoder_app`` (else ``$ICM_VTM_ENCODER``), ``cfg`` (else ``$ICM_VTM_CFG``; neither:
    :data:`ALL_INTRA_ARGS`), ``extra_args`` (a list of extra EncoderApp arguments), ``timeout_s``,
    ``decoder``. ``encode`` accepts ``extra_args`` per call.
    """

    name = "vtm"
    encode_options = ("extra_args",)

    def __init__(self, encoder_app: str | os.PathLike | None = None, cfg: str | os.PathLike | None = None,
                 extra_args: list[str] | tuple[str, ...] = (), timeout_s: float = DEFAULT_ENCODE_TIMEOUT_S,
                 decoder: VvcDecoder | None = None):
        super().__init__(decoder or FfmpegVvcDecoder())
        self.encoder_app = encoder_app
        self.cfg = cfg
        self.extra_args = _check_extra_args(extra_args)
        self.timeout_s = timeout_s

    def describe(self) -> str:
        location = str(self.cfg) if self.cfg else os.environ.get(ENV_CFG, "")
        return f"vtm (cfg {location})" if location else "vtm (built-in all-intra settings, no cfg)"

    def _encode_padded(self, y: np.ndarray, u: np.ndarray, v: np.ndarray, qp: int,
                       extra_args: list[str] | tuple[str, ...] | None = None) -> bytes:
        program = find_vtm_program(self.encoder_app, ENV_ENCODER, "EncoderApp")
        cfg = find_vtm_cfg(self.cfg)
        extra = _check_extra_args(extra_args) if extra_args is not None else self.extra_args
        height, width = y.shape
        with tempfile.TemporaryDirectory(prefix="icm-vtmenc-") as folder:
            folder = Path(folder)
            (folder / "in.yuv").write_bytes(pack_yuv420p10le(y, u, v))
            args = [program, *(["-c", cfg] if cfg else ALL_INTRA_ARGS),
                    "-i", folder / "in.yuv", "-b", folder / "out.bin",
                    "-wdt", str(width), "-hgt", str(height), "-fr", "1", "-f", "1", "-q", str(qp),
                    "--InputBitDepth=10", "--OutputBitDepth=10", "--InternalBitDepth=10",
                    "--InputChromaFormat=420", "--ChromaFormatIDC=420", *extra]
            run_tool(args, what="VTM encoding (EncoderApp)", timeout_s=self.timeout_s,
                     error_class=InnerCodecError, cwd=str(folder))
            out_path = folder / "out.bin"
            return out_path.read_bytes() if out_path.exists() else b""


def _check_extra_args(extra_args) -> list[str]:
    if isinstance(extra_args, str) or not all(isinstance(arg, str) for arg in extra_args):
        raise ConfigError("VTM extra_args must be a list of strings, e.g. ['--Level=6.2']")
    return list(extra_args)
