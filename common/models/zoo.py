"""The shipped weights of the learned tools, by model id, and the hash check a decoder applies.

``mfc`` model ids (``ps_model_id``): ``quality`` for the main models (``weights/mfc_q{quality}.pt``),
``10 + quality`` for the ablation without cross-scale prediction (``mfc-noxs_q*.pt``: both tensors coded),
``20 + quality`` for the ablation without importance ordering and grouping (``mfc-nogroup_q*.pt``: one
group, no order loss), ``30 + quality`` for the reference of the ablations (``mfc-short_q*.pt``: the main
structure trained exactly as the ablations were, i.e. without the main models' longer fine-tuning). ``ps_model_hash`` is the first 16 bytes of the SHA-256 of the weights file; a
decoder refuses a stream whose hash differs from its file's.

Weights are read from ``ICM_MFC_WEIGHTS`` (a folder, searched first, e.g. for models being trained) and
then from the ``weights/`` folder beside this module, with ``torch.load(..., weights_only=True)``.
"""
from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import ConfigError, ResourceError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
ENV_WEIGHTS = "ICM_MFC_WEIGHTS"
VARIANT_BASE = {"mfc": 0, "noxs": 10, "nogroup": 20, "short": 30}
MAX_QUALITY = 9
DEFAULT_QUALITY = 3
HASH_BYTES = 16


def model_id(variant: str, quality: int) -> int:
    if variant not in VARIANT_BASE:
        raise ConfigError(f"unknown mfc model '{variant}' (known: {', '.join(VARIANT_BASE)})")
    if not isinstance(quality, int) or not 1 <= quality <= MAX_QUALITY:
        raise ConfigError(f"mfc quality {quality} outside 1..{MAX_QUALITY}")
    return VARIANT_BASE[variant] + quality


def resolve_id(identifier: int) -> tuple[str, int]:
    for variant, base in VARIANT_BASE.items():
        if 1 <= identifier - base <= MAX_QUALITY:
            return variant, identifier - base
    raise ResourceError(f"no mfc model has id {identifier}")


def file_name(variant: str, quality: int) -> str:
    return f"mfc_q{quality}.pt" if variant == "mfc" else f"mfc-{variant}_q{quality}.pt"


def search_dirs() -> list[Path]:
    extra = os.environ.get(ENV_WEIGHTS)
    return ([Path(extra)] if extra else []) + [WEIGHTS_DIR]


def find_file(variant: str, quality: int) -> Path:
    name = file_name(variant, quality)
    for folder in search_dirs():
        if (folder / name).is_file():
            return folder / name
    where = ", ".join(str(d) for d in search_dirs())
    raise ResourceError(f"mfc model weights {name} not found (looked in {where})")


def available(variant: str = "mfc") -> list[int]:
    """Qualities with a weights file."""
    found = set()
    for quality in range(1, MAX_QUALITY + 1):
        if any((folder / file_name(variant, quality)).is_file() for folder in search_dirs()):
            found.add(quality)
    return sorted(found)


def file_hash(path: Path) -> bytes:
    return hashlib.sha256(Path(path).read_bytes()).digest()[:HASH_BYTES]


@dataclass
class LoadedModel:
    model_id: int
    variant: str
    quality: int
    path: Path
    hash: bytes
    runtime: object  # icm.common.models.mfc.MfcRuntime


_CACHE: dict = {}
_LOCK = threading.Lock()


def _load(variant: str, quality: int, device: str) -> LoadedModel:
    from .mfc import MfcRuntime

    path = find_file(variant, quality)
    data = path.read_bytes()
    digest = hashlib.sha256(data).digest()[:HASH_BYTES]
    key = (str(path), digest, str(device))
    with _LOCK:
        if key not in _CACHE:
            try:
                weights = torch.load(path, map_location="cpu", weights_only=True)
                runtime = MfcRuntime(weights, device)
            except (OSError, RuntimeError, ValueError, KeyError, TypeError) as exc:
                raise ResourceError(f"cannot load mfc weights {path}: {str(exc).splitlines()[0]}") from None
            _CACHE[key] = LoadedModel(model_id(variant, quality), variant, quality, path, digest, runtime)
        return _CACHE[key]


def load_for_encoder(variant: str, quality: int, device: str = "cpu") -> LoadedModel:
    model_id(variant, quality)  # validates the names
    return _load(variant, quality, device)


def load_for_decoder(identifier: int, stream_hash: bytes | None, device: str = "cpu") -> LoadedModel:
    """The model a stream names; ResourceError if it is missing or its hash differs from the stream's."""
    variant, quality = resolve_id(identifier)
    model = _load(variant, quality, device)
    if stream_hash is None or bytes(stream_hash) != model.hash:
        shown = bytes(stream_hash).hex() if stream_hash is not None else "none"
        raise ResourceError(f"mfc model {identifier} ({model.path.name}): the stream needs weights with hash "
                            f"{shown}, this decoder has {model.hash.hex()}")
    return model
