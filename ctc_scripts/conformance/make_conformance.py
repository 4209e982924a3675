"""Writes the conformance bitstreams of ``tests/data/conformance/`` and their README table.

    python -m icm.ctc_scripts.conformance.make_conformance          # needs the shared data (../shared)

Each stream is encoded by ``icm-enc``'s pipeline from a named picture with named settings, decoded again, and
listed with its size and the MD5 of its decoded output. Run it when the syntax or a shipped model changes
(the streams of the old syntax or weights no longer decode), and commit the result.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...common.config import DecoderConfig, EncoderConfig, InnerCodecConfig
from ...common.fileio import write_bytes_atomically
from ...common.image_io import read_image
from ...common.paths import shared_path
from ...common.registry import ToolInstances
from ...decoder.pipeline import decode_bytes
from ...encoder.pipeline import encode_picture

FOLDER = Path(__file__).resolve().parents[1] / "tests" / "data" / "conformance"
CROP = (128, 96)  # width, height of the centre crop of kodim23


@dataclass
class Stream:
    name: str
    picture: tuple[str, ...]  # path under the shared folder
    crop: bool  # the centre CROP of the picture
    config: EncoderConfig
    content: str


def streams() -> list[Stream]:
    faster = InnerCodecConfig(preset="faster")
    kodak = ("data", "kodak", "kodim23.png")
    coco = ("data", "coco-val-dev", "images", "000000000139.jpg")
    return [
        Stream("vvc_image_qp32_128x96.icm", kodak, True, EncoderConfig(tool="vvc-image", qp=32, inner=faster),
               "centre 128x96 crop of Kodak kodim23, QP 32, VVenC faster"),
        Stream("vvc_image_resampled_0.5_qp27.icm", kodak, True,
               EncoderConfig(tool="vvc-image", qp=27, resample="0.5", inner=faster),
               "the same crop coded at 64x48 (scale 0.5), QP 27, restored to 128x96"),
        Stream("vvc_feature_qp37.icm", coco, False, EncoderConfig(tool="vvc-feature", qp=37),
               "split features of coco-val-dev 000000000139.jpg (yolo-fastest-1.1-xl, 320x320), QP 37"),
        Stream("mfc_q3.icm", coco, False, EncoderConfig(tool="mfc", quality=3),
               "the same picture, model `mfc` quality 3 (`ps_model_id` 3: s32 coded in 4 groups, s16 predicted)"),
        Stream("mfc_q5.icm", coco, False, EncoderConfig(tool="mfc", quality=5),
               "the same picture, quality 5 (s16 predicted plus a coded residual, `fh_coding_mode` 2)"),
    ]


def centre_crop(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    top, left = (rgb.shape[0] - height) // 2, (rgb.shape[1] - width) // 2
    return np.ascontiguousarray(rgb[top:top + height, left:left + width])


HEAD = """# Conformance bitstreams

Small ICM bitstreams (syntax version 2) with the MD5 of their decoded output. A conforming decoder decodes each
to exactly this output on any machine, thread count and device (`icm-dec -i STREAM` checks the hash the stream
carries; `tests/test_conformance.py` also checks it against this table, so a decoder change that alters the
output fails). `python -m icm.ctc_scripts.conformance.make_conformance` wrote them (encoder defaults unless named: the
`mfc` streams with the encoder's latent refinement).

| stream | tool | content | bytes | decoded-output MD5 |
| --- | --- | --- | --- | --- |
"""

TAIL = """
The `mfc` streams decode with the weights shipped in `common/models/weights/`: a decoder needs the model file whose
hash the stream carries (`ps_model_hash`), and refuses the stream otherwise (exit status 7). Retraining or
re-exporting a model changes its hash, so such a change replaces these streams too.
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", default=str(FOLDER))
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    rows, tools = [], ToolInstances()
    for stream in streams():
        rgb = read_image(shared_path(*stream.picture))
        if stream.crop:
            rgb = centre_crop(rgb, *CROP)
        encoded = encode_picture(rgb, stream.config, tools=tools)
        decoded = decode_bytes(encoded.data, DecoderConfig(), tools=tools)
        if decoded.hash_hex != encoded.decoded.md5().hex():
            raise SystemExit(f"{stream.name}: the decoder's output differs from the encoder's")
        write_bytes_atomically(folder / stream.name, encoded.data)
        rows.append(f"| `{stream.name}` | {stream.config.tool} | {stream.content} | {len(encoded.data)} | "
                    f"`{decoded.hash_hex}` |")
        print(f"wrote {folder / stream.name}: {len(encoded.data)} bytes, decoded-output MD5 {decoded.hash_hex}")
    write_bytes_atomically(folder / "README.md", (HEAD + "\n".join(rows) + "\n" + TAIL).encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
