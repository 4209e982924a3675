"""Pairs of the real VVC image codec for the ``npp-vvc`` proxy: for each crop and QP, the picture that the
``vvc-image`` path decodes and the bits it spends, generated once with VVenC and cached in chunks.

    python -m icm.ctc_scripts.training.npp_pairs --out out/npp/pairs --train-chunks 64 --heldout-chunks 2

The codec path is ``vvc-image``'s, called through the suite's own functions: RGB (uint8) ->
``rgb_to_yuv420`` (BT.601 limited, 10 bit, 4:2:0) -> the configured inner encoder (``anchors.inner``,
VVenC, preset ``faster`` by default, one encoder thread) -> ffmpeg's VVC decoder -> ``yuv420_to_rgb``.
The rate is the VVC payload's bits (what ``vvc-image`` puts in its bitstream; the ICM parameter set, a
constant few bytes, is not counted). ``tests/test_npp_model.py`` checks that this equals what
``VvcImageEncoder``/``VvcImageDecoder`` give.

Crops (``--crop`` square, 128 by default) come in the two kinds of picture the tool codes:

* ``full``: the picture at its own size (a random scale 0.5..1 in half the cases, bicubic as the tool's
  resampling), a random crop;
* ``task``: the whole picture resized to 320x320 first (``--resample task``), then a random crop.

Every crop is mirrored with probability 1/2, and half the crops are altered the way a preprocessor might
alter them (blur, sharpening, noise, contrast; ``PERTURBATIONS``), so the proxy also sees pictures that are
not camera pictures. Training chunks code each crop at ``--qps-per-crop`` QPs drawn uniformly from
``--qp-min``..``--qp-max`` (22..47 by default, the CTC's image anchor range); held-out chunks (crops of the
held-out pictures) code each crop at every CTC QP (22, 27, 32, 37, 42, 47), for the fidelity study.

Cache layout (``--out``): ``manifest.json`` (the settings; a resume with other settings is refused),
``heldout/chunk_NNNNN.npz`` then ``train/chunk_NNNNN.npz``, each written atomically (temporary file, then
rename) and generated from its own seed, so a stopped run continues with the next missing chunk and gives
the same pairs. Keys of a chunk (N crops, K QPs per crop, crop H x W):

==============  ======================  =======  ===========================================================
key             shape                   dtype    meaning
==============  ======================  =======  ===========================================================
``original``    N x H x W x 3           uint8    the crop as coded (after view, flip, perturbation)
``decoded``     N x K x H x W x 3       uint8    the vvc-image decoded picture
``qp``          N x K                   int16    the QP of each coding
``bits``        N x K                   int32    the VVC payload bits
``kind``        N                       uint8    0 = full-size view, 1 = task-size (320x320) view
``perturbation``  N                     uint8    index in ``PERTURBATIONS``
``picture``     N                       int32    index of the source picture in the split's file list
``encode_s``    N x K                   float32  wall seconds of encode + decode
==============  ======================  =======  ===========================================================
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ...anchors.inner import YuvPlanes, decoder_codec, encoder_codec
from ...common.colour import rgb_to_yuv420, yuv420_to_rgb
from ...common.config import InnerCodecConfig
from ...common.resample import resize_rgb
from .pictures import PictureSet, training_picture_files

CTC_QPS = (22, 27, 32, 37, 42, 47)
TASK_SIZE = 320
KINDS = ("full", "task")
PERTURBATIONS = ("none", "blur", "sharpen", "noise", "contrast")
MANIFEST = "manifest.json"


class VvcImageRoundTrip:
    """The ``vvc-image`` coding of an RGB picture at its own size: decoded RGB and payload bits."""

    def __init__(self, preset: str = "faster", threads: int | None = 1):
        inner = InnerCodecConfig(preset=preset)
        self.encoder = encoder_codec(inner)
        self.decoder = decoder_codec(inner)
        self.threads = threads

    def __call__(self, rgb: np.ndarray, qp: int) -> tuple[np.ndarray, int]:
        height, width = rgb.shape[:2]
        planes = YuvPlanes(*rgb_to_yuv420(np.ascontiguousarray(rgb), bit_depth=10))
        options = {} if self.threads is None else {"threads": self.threads}
        payload = self.encoder.encode(planes, int(qp), **options)
        decoded = self.decoder.decode(payload, width, height)
        return yuv420_to_rgb(decoded.y, decoded.u, decoded.v, bit_depth=10), 8 * len(payload)


# -- crops ---------------------------------------------------------------------------------------------------


def random_crop(rgb: np.ndarray, rng: np.random.Generator, crop: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    if min(height, width) < crop:
        scale = crop / min(height, width)
        rgb = resize_rgb(rgb, max(crop, round(width * scale)), max(crop, round(height * scale)))
        height, width = rgb.shape[:2]
    top, left = int(rng.integers(0, height - crop + 1)), int(rng.integers(0, width - crop + 1))
    return rgb[top:top + crop, left:left + crop]


def crop_view(rgb: np.ndarray, rng: np.random.Generator, crop: int, kind: str) -> np.ndarray:
    """A ``crop x crop`` uint8 view of one kind (``KINDS``), mirrored with probability 1/2."""
    if kind == "task":
        rgb = resize_rgb(rgb, TASK_SIZE, TASK_SIZE, filter="bicubic")
    elif rng.random() < 0.5:
        scale = rng.uniform(0.5, 1.0)
        height, width = rgb.shape[:2]
        rgb = resize_rgb(rgb, max(crop, round(width * scale)), max(crop, round(height * scale)))
    view = random_crop(rgb, rng, crop)
    if rng.random() < 0.5:
        view = view[:, ::-1]
    return np.ascontiguousarray(view)


def perturb(rgb: np.ndarray, rng: np.random.Generator, name: str) -> np.ndarray:
    """The crop altered as a preprocessor might alter it (``PERTURBATIONS``), uint8."""
    if name == "none":
        return rgb
    x = torch.from_numpy(rgb.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    if name in ("blur", "sharpen"):
        sigma = rng.uniform(0.5, 1.5)
        taps = torch.exp(-0.5 * (torch.arange(-3, 4, dtype=torch.float32) / sigma) ** 2)
        taps = (taps / taps.sum()).view(1, 1, 1, 7).repeat(3, 1, 1, 1)
        padded = F.pad(x, (3, 3, 3, 3), mode="replicate")
        blurred = F.conv2d(F.conv2d(padded, taps, groups=3), taps.transpose(2, 3), groups=3)
        x = blurred if name == "blur" else x + rng.uniform(0.3, 1.0) * (x - blurred)
    elif name == "noise":
        x = x + torch.from_numpy(rng.normal(0, rng.uniform(1, 4) / 255, x.shape).astype(np.float32))
    else:
        mean = x.mean(dim=(2, 3), keepdim=True)
        x = mean + rng.uniform(0.7, 1.1) * (x - mean)
    out = (x.clamp(0, 1) * 255).round().to(torch.uint8)[0].permute(1, 2, 0)
    return np.ascontiguousarray(out.numpy())


# -- chunks --------------------------------------------------------------------------------------------------


def chunk_seed(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, 0 if split == "train" else 1, index])


def make_chunk(pictures: list[np.ndarray], codec: VvcImageRoundTrip, rng: np.random.Generator, count: int, crop: int,
               qps_per_crop: int | None, qp_range: tuple[int, int]) -> dict[str, np.ndarray]:
    """``count`` crops, each coded at ``qps_per_crop`` random QPs (None: every CTC QP)."""
    fields = {key: [] for key in ("original", "decoded", "qp", "bits", "kind", "perturbation", "picture",
                                  "encode_s")}
    for _ in range(count):
        index = int(rng.integers(len(pictures)))
        kind = int(rng.integers(len(KINDS)))
        perturbation = int(rng.integers(1, len(PERTURBATIONS))) if rng.random() < 0.5 else 0
        view = perturb(crop_view(pictures[index], rng, crop, KINDS[kind]), rng,
                       PERTURBATIONS[perturbation])
        if qps_per_crop is None:
            qps = np.array(CTC_QPS)
        else:
            qps = np.sort(rng.choice(np.arange(qp_range[0], qp_range[1] + 1), qps_per_crop, replace=False))
        decoded, bits, seconds = [], [], []
        for qp in qps:
            start = time.perf_counter()
            picture, nbits = codec(view, int(qp))
            seconds.append(time.perf_counter() - start)
            decoded.append(picture)
            bits.append(nbits)
        for key, value in (("original", view), ("decoded", np.stack(decoded)), ("qp", qps), ("bits", bits),
                           ("kind", kind), ("perturbation", perturbation), ("picture", index),
                           ("encode_s", seconds)):
            fields[key].append(value)
    dtypes = {"original": np.uint8, "decoded": np.uint8, "qp": np.int16, "bits": np.int32, "kind": np.uint8,
              "perturbation": np.uint8, "picture": np.int32, "encode_s": np.float32}
    return {key: np.asarray(values, dtype=dtypes[key]) for key, values in fields.items()}


def write_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def chunk_path(out: Path, split: str, index: int) -> Path:
    return out / split / f"chunk_{index:05d}.npz"


def chunk_files(out: Path, split: str) -> list[Path]:
    """The finished chunks of a split, in order."""
    folder = Path(out) / split
    return sorted(folder.glob("chunk_*.npz")) if folder.is_dir() else []


def load_pairs(files: list[Path]) -> dict[str, np.ndarray]:
    """The chunks concatenated along the crop axis."""
    chunks = [dict(np.load(f)) for f in files]
    if not chunks:
        raise SystemExit("no pair chunks found")
    return {key: np.concatenate([c[key] for c in chunks]) for key in chunks[0]}


def check_manifest(out: Path, settings: dict) -> None:
    path = out / MANIFEST
    if path.exists():
        old = json.loads(path.read_text())
        fixed = {k: v for k, v in settings.items() if not k.endswith("_chunks")}
        if {k: old.get(k) for k in fixed} != fixed:
            raise SystemExit(f"{path} was made with other settings: {old} (use another --out)")
    out.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(MANIFEST + ".tmp")
    tmp.write_text(json.dumps(settings, indent=1))
    os.replace(tmp, path)


def generate(args: argparse.Namespace) -> int:
    out = Path(args.out)
    settings = {"crop": args.crop, "chunk": args.chunk, "qps_per_crop": args.qps_per_crop,
                "qp_range": [args.qp_min, args.qp_max], "preset": args.preset, "seed": args.seed,
                "heldout_qps": list(CTC_QPS), "train_chunks": args.train_chunks,
                "heldout_chunks": args.heldout_chunks, "kinds": list(KINDS), "perturbations": list(PERTURBATIONS)}
    check_manifest(out, settings)
    codec = VvcImageRoundTrip(args.preset, args.threads)
    plan = [("heldout", i) for i in range(args.heldout_chunks)] + [("train", i) for i in range(args.train_chunks)]
    todo = [(split, i) for split, i in plan if not chunk_path(out, split, i).exists()]
    print(f"{len(plan) - len(todo)} of {len(plan)} chunks present; {len(todo)} to make", flush=True)
    sets: dict[str, PictureSet] = {}
    start, pairs_made = time.perf_counter(), 0
    for done, (split, index) in enumerate(todo, 1):
        if split not in sets:
            sets[split] = PictureSet(training_picture_files(), split)
        per_crop = None if split == "heldout" else args.qps_per_crop
        chunk = make_chunk(sets[split].pictures, codec, chunk_seed(args.seed, split, index), args.chunk, args.crop,
                           per_crop, (args.qp_min, args.qp_max))
        write_atomically(chunk_path(out, split, index), chunk)
        pairs_made += chunk["bits"].size
        elapsed = time.perf_counter() - start
        rate = pairs_made / elapsed
        left = sum(args.chunk * (len(CTC_QPS) if s == "heldout" else args.qps_per_crop) for s, _ in todo[done:])
        print(json.dumps({"chunk": f"{split}/{index}", "done": done, "of": len(todo), "pairs": pairs_made,
                          "pairs_per_s": round(rate, 2), "encode_s": round(float(chunk["encode_s"].mean()), 3),
                          "bpp": round(float(chunk["bits"].mean()) / args.crop ** 2, 3),
                          "eta_min": round(left / max(rate, 1e-9) / 60, 1)}), flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="generate the VVenC pairs of the npp-vvc proxy")
    parser.add_argument("--out", default="out/npp/pairs")
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--chunk", type=int, default=32, help="crops per chunk file")
    parser.add_argument("--train-chunks", type=int, default=64)
    parser.add_argument("--heldout-chunks", type=int, default=2)
    parser.add_argument("--qps-per-crop", type=int, default=3)
    parser.add_argument("--qp-min", type=int, default=22)
    parser.add_argument("--qp-max", type=int, default=47)
    parser.add_argument("--preset", default="faster")
    parser.add_argument("--threads", type=int, default=1, help="VVenC encoder threads (0: ffmpeg's choice)")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads == 0:
        args.threads = None
    return generate(args)


if __name__ == "__main__":
    raise SystemExit(main())
