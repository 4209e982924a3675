"""The model zoo: the weights files of every learned tool, keyed by tool, model family and quality.

A learned tool declares its models in its registry entry (``icm.common.registry``) as a :class:`ModelSet`:
its model families, each with a model-id base and a file-name pattern, the qualities a family can have, and
the loader that turns a weights file into the tool's runtime (named by import path, imported on first load,
so that listing qualities or checking files never imports torch). The stream carries the model id
(``ps_model_id`` = family base + quality) and the hash of the weights file (``ps_model_hash``, the first 4
bytes of its SHA-256); a decoder refuses a stream whose hash differs from its own file's.

Weights are looked up in the folder named by the tool's environment variable (``ICM_<TOOL>_WEIGHTS``, e.g.
``ICM_MFC_WEIGHTS``; searched first, e.g. for models being trained) and then in the ``weights/`` folder beside
this module. The qualities a family offers are those with a weights file (a family whose file pattern has no
``{quality}`` serves all its qualities from one file). Loaded models are kept by a :class:`ModelCache`, an
object that whoever encodes or decodes holds (an encoder, a decoder, or the tool instances of a loop).
The weights-file formats are described in ``docs/models.md``.
"""
from __future__ import annotations

import hashlib
import importlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import ConfigError, ResourceError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
HASH_BYTES = 16
STREAM_HASH_BYTES = 4  # ps_model_hash: 32 bits
MAX_MODEL_ID = 255  # ps_model_id is ue(v) up to 255; 0 means "no model"


def load_object(path: str):
    """The object that ``"package.module:name"`` names (the module is imported now)."""
    module_name, _, name = path.partition(":")
    if not module_name or not name:
        raise ValueError(f"'{path}' is not of the form package.module:name")
    return getattr(importlib.import_module(module_name), name)


def file_hash(path: str | os.PathLike) -> bytes:
    """A weights file's identity: the first 16 bytes of its SHA-256 (streams carry the first 4)."""
    return hashlib.sha256(Path(path).read_bytes()).digest()[:HASH_BYTES]


def read_npz(path: str | os.PathLike) -> dict:
    """The arrays of an ``.npz`` weights file (no pickled objects: ``allow_pickle=False``)."""
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


@dataclass(frozen=True)
class ModelFamily:
    """One family of models of a tool (its main models, an ablation, ...)."""

    name: str
    id_base: int  # ps_model_id = id_base + quality
    file: str  # file name, "{quality}" replaced by the quality; without it one file serves every quality
    description: str = ""

    def file_name(self, quality: int) -> str:
        return self.file.format(quality=quality)


@dataclass(frozen=True)
class ModelSet:
    """The models of one learned tool: its families, their qualities and the loader of their weights files.

    ``loader`` names a function ``(path: Path, device: str) -> runtime`` by import path; it is imported on
    the first load. ``qualities`` is every quality a family may have (the model-id space); those offered are
    the ones with a weights file (:meth:`available`)."""

    tool: str
    families: tuple[ModelFamily, ...]
    loader: str
    qualities: tuple[int, ...] = tuple(range(1, 10))

    def __post_init__(self):
        if not self.families:
            raise ValueError(f"{self.tool}: a model set needs at least one family")
        ids = [f.id_base + q for f in self.families for q in self.qualities]
        if len(set(ids)) != len(ids) or min(ids) < 1 or max(ids) > MAX_MODEL_ID:
            raise ValueError(f"{self.tool}: model ids must be distinct and within 1..{MAX_MODEL_ID}")

    @property
    def default_family(self) -> str:
        return self.families[0].name

    @property
    def env(self) -> str:
        """The environment variable naming a folder searched first (``ICM_MFC_WEIGHTS`` for ``mfc``)."""
        return "ICM_" + self.tool.upper().replace("-", "_") + "_WEIGHTS"

    def family(self, name: str | None) -> ModelFamily:
        name = name or self.default_family
        for family in self.families:
            if family.name == name:
                return family
        raise ConfigError(f"unknown {self.tool} model '{name}' (known: {', '.join(self.family_names())})")

    def family_names(self) -> list[str]:
        return [f.name for f in self.families]

    def model_id(self, family: str | None, quality: int) -> int:
        if isinstance(quality, bool) or not isinstance(quality, int) or quality not in self.qualities:
            raise ConfigError(f"{self.tool} quality {quality!r} outside {_span(self.qualities)}")
        return self.family(family).id_base + quality

    def resolve_id(self, identifier: int) -> tuple[str, int]:
        """(family, quality) of a stream's model id; ResourceError if no model has it."""
        for family in self.families:
            if identifier - family.id_base in self.qualities:
                return family.name, identifier - family.id_base
        raise ResourceError(f"no {self.tool} model has id {identifier}")

    def file_name(self, family: str | None, quality: int) -> str:
        return self.family(family).file_name(quality)

    def search_dirs(self) -> list[Path]:
        extra = os.environ.get(self.env)
        return ([Path(extra)] if extra else []) + [WEIGHTS_DIR]

    def find_file(self, family: str | None, quality: int) -> Path:
        name = self.file_name(family, quality)
        for folder in self.search_dirs():
            if (folder / name).is_file():
                return folder / name
        where = ", ".join(str(d) for d in self.search_dirs())
        raise ResourceError(f"{self.tool} model weights {name} not found (looked in {where})")

    def available(self, family: str | None = None) -> list[int]:
        """Qualities of ``family`` (default: the first) that have a weights file."""
        folders = self.search_dirs()
        model = self.family(family)
        return [q for q in self.qualities if any((d / model.file_name(q)).is_file() for d in folders)]

    def check_quality(self, family: str | None, quality) -> None:
        """ConfigError (one line) unless ``family`` has weights for ``quality``."""
        self.model_id(family, quality)
        offered = self.available(family)
        if quality not in offered:
            name = self.family(family).name
            shown = _span(offered) if offered else "none: no weights file found"
            raise ConfigError(f"{self.tool} model {name} has no quality {quality} (qualities with weights: {shown})")

    def load_function(self) -> Callable:
        return load_object(self.loader)


def _span(values) -> str:
    values = sorted(values)
    if len(values) > 1 and values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}..{values[-1]}"
    return ", ".join(map(str, values))


@dataclass
class LoadedModel:
    model_id: int
    family: str
    quality: int
    path: Path
    hash: bytes
    runtime: object  # what the model set's loader returns (mfc: icm.common.models.mfc.MfcRuntime)

    @property
    def stream_hash(self) -> int:
        """``ps_model_hash``: the first 4 bytes of the weights file's SHA-256, big-endian."""
        return int.from_bytes(self.hash[:STREAM_HASH_BYTES], "big")


class ModelCache:
    """Loaded models, by weights file, hash and device: hold one and hand it to encoders and decoders that
    should share their models (an encoder and the decoder that checks its stream load a model once)."""

    def __init__(self):
        self._loaded: dict = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """The number of loaded models."""
        return len(self._loaded)

    def load(self, models: ModelSet, family: str | None, quality: int, device: str = "cpu") -> LoadedModel:
        """The model of ``family`` at ``quality`` (checked), loaded on first use."""
        identifier = models.model_id(family, quality)
        family = models.family(family).name
        path = models.find_file(family, quality)
        digest = file_hash(path)
        key = (str(path), digest, str(device))
        with self._lock:
            if key not in self._loaded:
                try:
                    runtime = models.load_function()(path, device)
                except (OSError, RuntimeError, ValueError, KeyError, TypeError) as exc:
                    raise ResourceError(f"cannot load {models.tool} weights {path}: "
                                        f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
                self._loaded[key] = runtime
            return LoadedModel(identifier, family, quality, path, digest, self._loaded[key])

    def load_for_decoder(self, models: ModelSet, identifier: int, stream_hash: int | None,
                         device: str = "cpu") -> LoadedModel:
        """The model a stream names; ResourceError if it is missing or its hash differs from the stream's."""
        family, quality = models.resolve_id(identifier)
        model = self.load(models, family, quality, device)
        if stream_hash is None or stream_hash != model.stream_hash:
            shown = f"{stream_hash:08x}" if stream_hash is not None else "none"
            raise ResourceError(f"{models.tool} model {identifier} ({model.path.name}): the stream needs weights "
                                f"with hash {shown}, this decoder has {model.stream_hash:08x}")
        return model
