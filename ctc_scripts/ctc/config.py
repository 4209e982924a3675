"""The CTC configuration: one YAML file names the dataset, the task network, the device and the codecs.

Everything is checked here, before any work: unknown keys, unknown tools, QPs outside 0..63, a missing
dataset, a task network that cannot be loaded, an inner codec that is not there (ffmpeg with VVenC, or the
VTM programs), a CUDA device on a machine without one. Each problem is one :class:`IcmError` with a
one-line message (``icm-ctc`` prints it and exits with the error's status). See ``docs/ctc.md``.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import yaml

from ...common.config import PRESETS, DecoderConfig, EncoderConfig, load_config
from ...common.errors import ConfigError, ResourceError
from ...common.registry import ToolEntry, default_registry
from ...common.syntax.structures import SYNTAX_VERSION_MAJOR, SYNTAX_VERSION_MINOR
from .dataset import DatasetConfig, load_dataset
from .records import DEFAULT_OUTPUT_ROOT

UNCOMPRESSED = "uncompressed"
# Bump when what a per-image record holds (or how it is computed) changes: old records are then redone.
RECORD_VERSION = 1

TOP_KEYS = {"name", "dataset", "task_network", "task_input_size", "device", "inner", "codecs", "anchors",
            "reference", "output", "jobs", "statistics", "bd"}
DATASET_KEYS = {"name", "images", "annotations", "segmentation_annotations", "limit", "extensions"}
CODEC_KEYS = {"name", "tool", "qps", "qualities", "resample", "settings", "inner", "label", "decode"}
# A codec's decoder settings (icm-dec's): decode only the first k channel groups (tools with groups), or the
# picture of a task network's adapter (tools with adapters). Both change what is decoded, so both enter the key.
DECODE_KEYS = {"max_groups", "task_network"}
STATISTICS_KEYS = {"bootstrap", "confidence", "seed", "fidelity_threshold"}
BD_KEYS = {"methods", "min_overlap"}
INNER_KEYS = {"encoder", "decoder", "preset", "vtm_encoder", "vtm_decoder", "vtm_cfg"}
BD_METHODS = ("pchip", "cubic")
# EncoderConfig fields the CTC sets itself; a codec's ``settings`` may set any other (the shared ones such as
# feature_bit_depth, and the settings of its tool in the registry: resample, model, ...).
MANAGED_KEYS = {"tool", "qp", "quality", "task_network", "task_input_size", "device", "inner", "tool_settings"}


def settings_keys() -> set:
    return ({f.name for f in fields(EncoderConfig)} | set(default_registry().settings())) - MANAGED_KEYS


def _encoder(tool: str):
    """An encoder object of ``tool`` (for its resolved settings and resource checks; nothing is loaded)."""
    entry = default_registry().get(tool)
    return entry.encoder_class()(entry=entry)


@dataclass
class CodecConfig:
    """One curve: a coding tool at a list of QPs, or of qualities (learned tools' rate points); neither
    for ``uncompressed``."""

    name: str
    tool: str
    qps: list[int] = field(default_factory=list)
    resample: str | None = None
    settings: dict = field(default_factory=dict)
    inner: dict = field(default_factory=dict)
    label: str | None = None
    qualities: list[int] = field(default_factory=list)
    decode: dict = field(default_factory=dict)  # DecoderConfig settings (DECODE_KEYS)

    @property
    def coded(self) -> bool:
        return self.tool != UNCOMPRESSED

    @property
    def parameter(self) -> str | None:
        """What the rate points set: "qp", "quality", or None (uncompressed)."""
        return None if not self.coded else ("quality" if self.qualities else "qp")

    @property
    def values(self) -> list[int]:
        return self.qualities if self.qualities else self.qps


@dataclass
class StatisticsConfig:
    bootstrap: int = 1000  # bootstrap replicates (resampling images); 0 = no confidence intervals
    confidence: float = 0.95
    seed: int = 0
    fidelity_threshold: float = 0.5  # reference detections at or above this score are the fidelity "ground truth"


@dataclass
class BdConfig:
    methods: list[str] = field(default_factory=lambda: list(BD_METHODS))
    min_overlap: float = 0.5  # warn when the overlap is below this fraction of the union of the two ranges


@dataclass
class CtcConfig:
    name: str
    dataset: DatasetConfig
    codecs: list[CodecConfig]
    task_network: str = "yolo-fastest-1.1-xl"
    task_input_size: int = 320
    device: str = "cpu"
    inner: dict = field(default_factory=dict)
    anchors: list[str] = field(default_factory=list)
    reference: str | None = None  # codec whose detections are the task-fidelity reference (uncompressed)
    output: str | None = None
    jobs: int = 1
    statistics: StatisticsConfig = field(default_factory=StatisticsConfig)
    bd: BdConfig = field(default_factory=BdConfig)
    source: str | None = None  # the YAML file it came from

    # -- derived settings --------------------------------------------------------------------------

    def codec(self, name: str) -> CodecConfig:
        for codec in self.codecs:
            if codec.name == name:
                return codec
        raise ConfigError(f"no codec named '{name}' in the CTC (codecs: {', '.join(c.name for c in self.codecs)})")

    def select(self, names: list[str] | None, keep_reference: bool = False) -> "CtcConfig":
        """This configuration with only the codecs ``names`` (all of them for None; ConfigError for a name it
        lacks), the anchors among them, and the task-fidelity reference if it is among them or
        ``keep_reference``."""
        if not names:
            return self
        for name in names:
            self.codec(name)
        keep = set(names) | ({self.reference} if keep_reference and self.reference else set())
        return replace(self, codecs=[c for c in self.codecs if c.name in keep],
                       anchors=[a for a in self.anchors if a in keep],
                       reference=self.reference if self.reference in keep else None)

    def output_dir(self) -> Path:
        return Path(self.output) if self.output else Path(DEFAULT_OUTPUT_ROOT) / self.name

    def encoder_config(self, codec: CodecConfig, value: int) -> EncoderConfig:
        """The icm-enc settings of one point, ``value`` being its QP or quality (the exact object
        ``icm-enc -c`` would build)."""
        inner = {**self.inner, **codec.inner}
        values = dict(tool=codec.tool, task_network=self.task_network, task_input_size=self.task_input_size,
                      device=self.device, **codec.settings)
        values[codec.parameter] = value
        if codec.resample is not None:
            values["resample"] = codec.resample
        return load_config(EncoderConfig, None, **values, **{f"inner_{k}": v for k, v in inner.items()})

    def decoder_config(self, codec: CodecConfig) -> DecoderConfig:
        inner = {**self.inner, **codec.inner}
        return load_config(DecoderConfig, None, device=self.device, **codec.decode,
                           **{f"inner_{k}": v for k, v in inner.items()})

    def point_key(self, codec: CodecConfig, qp: int | None, with_decode: bool = True) -> str:
        """A fingerprint of everything that determines a point's per-image results (not the device
        index, the paths of the VTM programs or the number of jobs): a cached record whose key differs
        is stale and is redone. ``with_decode=False``: of what determines its streams only (the decoder
        settings left out), so that points whose streams are the same can be found."""
        described = {"version": RECORD_VERSION, "syntax": f"{SYNTAX_VERSION_MAJOR}.{SYNTAX_VERSION_MINOR}",
                     "tool": codec.tool, "task_network": self.task_network,
                     "task_input_size": self.task_input_size, "device_type": self.device.split(":")[0]}
        if codec.coded:
            tool = _encoder(codec.tool)
            encoder_config = self.encoder_config(codec, qp)
            # Settings that are None (unset, e.g. fields a later EncoderConfig adds) do not enter the key; a
            # tool's own settings (tool_settings) enter as the EncoderConfig fields do.
            encoder = {k: v for k, v in asdict(encoder_config).items() if v is not None}
            encoder.update(encoder.pop("tool_settings"))
            encoder.pop("device")
            encoder.update(tool.resolved_settings(encoder_config))
            for key in ("vtm_encoder", "vtm_decoder", "decoder"):
                encoder["inner"].pop(key)
            if encoder["inner"]["encoder"] == "vtm":
                encoder["inner"].pop("preset")
                encoder["inner"]["vtm_cfg"] = _file_digest(encoder["inner"]["vtm_cfg"])
            else:
                encoder["inner"].pop("vtm_cfg")
            described["encoder"] = encoder
            resources = tool.resource_fingerprint(encoder_config)
            if resources:  # e.g. the hash of a learned model's weights: retrained weights redo the point
                described["resources"] = resources
            if codec.decode and with_decode:
                described["decode"] = dict(codec.decode)
        text = json.dumps(described, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def points(self) -> list[tuple[CodecConfig, int | None]]:
        """Every (codec, QP or quality) point in configuration order; ``uncompressed`` has None."""
        return [(codec, value) for codec in self.codecs for value in (codec.values if codec.coded else [None])]

    def to_dict(self) -> dict:
        return asdict(self)


def _file_digest(path: str | None) -> str | None:
    if not path:
        path = os.environ.get("ICM_VTM_CFG") or None
    if not path or not os.path.isfile(path):
        return path
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


# -- reading --------------------------------------------------------------------------------------


def _check_keys(values: dict, allowed: set, where: str) -> None:
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be a mapping")
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' (known: {', '.join(sorted(allowed))})")


def _int(value, where: str, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where} must be an integer, not {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = f"{minimum if minimum is not None else '-inf'}..{maximum if maximum is not None else 'inf'}"
        raise ConfigError(f"{where} {value} outside {bounds}")
    return value


def _float(value, where: str, minimum: float, maximum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not minimum <= value <= maximum:
        raise ConfigError(f"{where} must be a number in {minimum}..{maximum}, not {value!r}")
    return float(value)


def apply_override(values: dict, assignment: str) -> None:
    """Apply ``KEY=VALUE`` (``--set``) to the raw YAML mapping. KEY is dotted (``statistics.bootstrap``);
    a codec is addressed by name (``codecs.vvc-image.qps=[22,27]``); VALUE is parsed as YAML."""
    if "=" not in assignment:
        raise ConfigError(f"--set '{assignment}': use KEY=VALUE")
    key, text = assignment.split("=", 1)
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        raise ConfigError(f"--set {key}: cannot parse value '{text}'") from None
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"--set '{assignment}': empty key")
    target = values
    for index, part in enumerate(parts[:-1]):
        if part == "codecs" and isinstance(target.get("codecs"), list):
            name = parts[index + 1]
            found = [c for c in target["codecs"] if isinstance(c, dict) and c.get("name") == name]
            if not found:
                raise ConfigError(f"--set {key}: no codec named '{name}'")
            target = found[0]
            rest = parts[index + 2:]
            if not rest:
                raise ConfigError(f"--set {key}: name a setting of codec '{name}'")
            for sub in rest[:-1]:
                target = target.setdefault(sub, {})
            target[rest[-1]] = value
            return
        nxt = target.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"--set {key}: '{part}' is not a mapping")
        target = nxt
    target[parts[-1]] = value


def read_yaml(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        values = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"CTC configuration not found: {path}") from None
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read CTC configuration {path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"CTC configuration {path} is not a mapping")
    return values


def load_ctc_config(path: str | os.PathLike | None = None, values: dict | None = None,
                    overrides: list[str] = (), **options) -> CtcConfig:
    """A CtcConfig from a YAML file (or an already-read mapping), ``--set`` assignments and options
    (``output``, ``device``, ``jobs``, ``preset``, ``limit``, ``bootstrap``, ``codecs``: None = keep).
    Only the syntax and ranges are checked here; :func:`check_resources` checks what must exist."""
    values = copy.deepcopy(values) if values is not None else read_yaml(path)
    for assignment in overrides:
        apply_override(values, assignment)
    where = str(path) if path else "CTC configuration"
    _check_keys(values, TOP_KEYS, where)
    base = Path(path).resolve().parent if path else Path.cwd()

    dataset_values = values.get("dataset")
    if dataset_values is None:
        raise ConfigError(f"{where}: no 'dataset'")
    if isinstance(dataset_values, str):
        dataset_values = {"name": dataset_values}
    _check_keys(dataset_values, DATASET_KEYS, f"{where}: dataset")
    dataset = _dataset(dataset_values, base, where)
    if options.get("limit") is not None:
        dataset.limit = _int(options["limit"], "--limit", 0)

    codec_list = values.get("codecs")
    if not isinstance(codec_list, list) or not codec_list:
        raise ConfigError(f"{where}: 'codecs' must be a non-empty list")
    codecs = [_codec(entry, f"{where}: codecs[{index}]") for index, entry in enumerate(codec_list)]
    names = [c.name for c in codecs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{where}: codec name '{duplicates[0]}' used twice")
    if options.get("codecs"):
        wanted = list(options["codecs"])
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise ConfigError(f"--codec {unknown[0]}: no such codec (codecs: {', '.join(names)})")
        codecs = [c for c in codecs if c.name in wanted]

    inner = values.get("inner") or {}
    _check_keys(inner, INNER_KEYS, f"{where}: inner")
    inner = dict(inner)
    if options.get("preset") is not None:
        inner["preset"] = options["preset"]

    statistics_values = values.get("statistics") or {}
    _check_keys(statistics_values, STATISTICS_KEYS, f"{where}: statistics")
    statistics = StatisticsConfig(**statistics_values)
    if options.get("bootstrap") is not None:
        statistics.bootstrap = options["bootstrap"]
    statistics.bootstrap = _int(statistics.bootstrap, "statistics.bootstrap", 0, 100000)
    statistics.confidence = _float(statistics.confidence, "statistics.confidence", 0.5, 0.999)
    statistics.seed = _int(statistics.seed, "statistics.seed", 0)
    statistics.fidelity_threshold = _float(statistics.fidelity_threshold, "statistics.fidelity_threshold", 0.0, 1.0)

    bd_values = values.get("bd") or {}
    _check_keys(bd_values, BD_KEYS, f"{where}: bd")
    bd = BdConfig(**bd_values)
    if not isinstance(bd.methods, list) or not bd.methods or any(m not in BD_METHODS for m in bd.methods):
        raise ConfigError(f"{where}: bd.methods must be a list of {', '.join(BD_METHODS)}")
    bd.min_overlap = _float(bd.min_overlap, "bd.min_overlap", 0.0, 1.0)

    name = values.get("name") or (Path(path).stem if path else "ctc")
    if not isinstance(name, str) or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ConfigError(f"{where}: name must be letters, digits, '-', '_' or '.', not {name!r}")
    config = CtcConfig(
        name=name, dataset=dataset, codecs=codecs,
        task_network=str(values.get("task_network", "yolo-fastest-1.1-xl")),
        task_input_size=_int(values.get("task_input_size", 320), "task_input_size", 32, 4096),
        device=str(options.get("device") or values.get("device", "cpu")),
        inner=inner, statistics=statistics, bd=bd,
        jobs=_int(options["jobs"] if options.get("jobs") is not None else values.get("jobs", 1), "jobs", 1, 256),
        output=str(options.get("output") or values.get("output") or "") or None,
        source=str(Path(path).resolve()) if path else None)

    coded = [c.name for c in codecs if c.coded]
    anchors = values.get("anchors")
    if anchors is None:  # the first codec of a tool that is a default anchor, else the first coded codec
        anchors = [c.name for c in codecs if c.coded and default_registry().get(c.tool).default_anchor][:1]
        anchors = anchors or coded[:1]
    if isinstance(anchors, str):
        anchors = [anchors]
    if not isinstance(anchors, list):
        raise ConfigError(f"{where}: anchors must be a list of codec names")
    # Anchors dropped by --codec are simply not compared against.
    config.anchors = [a for a in anchors if a in coded or a not in names]
    for anchor in config.anchors:
        if anchor not in coded:
            raise ConfigError(f"{where}: anchor '{anchor}' is not a coded codec of this CTC")
    reference = values.get("reference")
    uncompressed = [c.name for c in codecs if not c.coded]
    if reference is None:
        reference = uncompressed[0] if uncompressed else None
    elif reference not in uncompressed:
        raise ConfigError(f"{where}: reference '{reference}' must name an uncompressed codec")
    config.reference = reference
    if not config.device.startswith(("cpu", "cuda")):
        raise ConfigError(f"unknown device '{config.device}' (use cpu, cuda or cuda:N)")
    # The encoder/decoder settings of every point, built and checked against the tool now so that bad settings
    # stop the run here.
    for codec, value in config.points():
        if codec.coded:
            default_registry().get(codec.tool).check(config.encoder_config(codec, value))
            config.decoder_config(codec)
    return config


def config_from_dict(values: dict) -> CtcConfig:
    """The CtcConfig that :meth:`CtcConfig.to_dict` wrote (``run.json``), without re-checking it."""
    values = copy.deepcopy(values)
    values["dataset"]["extensions"] = tuple(values["dataset"].get("extensions", ()))
    values["dataset"] = DatasetConfig(**values["dataset"])
    values["codecs"] = [CodecConfig(**codec) for codec in values["codecs"]]
    values["statistics"] = StatisticsConfig(**values["statistics"])
    values["bd"] = BdConfig(**values["bd"])
    return CtcConfig(**values)


def _resolve_path(text, base: Path, where: str) -> str:
    if not isinstance(text, str) or not text:
        raise ConfigError(f"{where} must be a path")
    if "{shared}" in text:
        from ...common.paths import shared_dir
        text = text.replace("{shared}", str(shared_dir()))
    path = Path(os.path.expanduser(text))
    return str(path if path.is_absolute() else (base / path).resolve())


def _dataset(values: dict, base: Path, where: str) -> DatasetConfig:
    name = values.get("name")
    images, annotations = values.get("images"), values.get("annotations")
    if images is None and name == "coco-val-dev":
        from ...common.paths import coco_val_dev
        folder, det = coco_val_dev()
        images, annotations = str(folder), annotations or str(det)
    if images is None:
        raise ConfigError(f"{where}: dataset needs 'images' (a folder)")
    images = _resolve_path(images, base, f"{where}: dataset.images")
    name = name or Path(images).parent.name
    extensions = values.get("extensions", (".jpg", ".jpeg", ".png"))
    return DatasetConfig(
        name=str(name), images=images,
        annotations=_resolve_path(annotations, base, f"{where}: dataset.annotations") if annotations else None,
        segmentation_annotations=(_resolve_path(values["segmentation_annotations"], base,
                                                f"{where}: dataset.segmentation_annotations")
                                  if values.get("segmentation_annotations") else None),
        limit=_int(values.get("limit", 0), f"{where}: dataset.limit", 0),
        extensions=tuple(str(e).lower() for e in extensions))


def _codec(entry, where: str) -> CodecConfig:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a mapping")
    _check_keys(entry, CODEC_KEYS, where)
    tool = entry.get("tool")
    if not isinstance(tool, str) or not tool:
        raise ConfigError(f"{where}: 'tool' is required")
    registry = default_registry()
    if tool != UNCOMPRESSED and tool not in registry:
        raise ConfigError(f"{where}: unknown tool '{tool}' (available: {', '.join(registry.names())}, "
                          f"{UNCOMPRESSED})")
    name = str(entry.get("name") or tool)
    if "/" in name or name.startswith(".") or not name.strip():
        raise ConfigError(f"{where}: bad codec name {name!r}")
    qps, qualities = entry.get("qps", []), entry.get("qualities", [])
    settings = entry.get("settings") or {}
    _check_keys(settings, settings_keys(), f"{where} ({name}): settings")
    if tool == UNCOMPRESSED:
        if qps or qualities:
            raise ConfigError(f"{where}: '{UNCOMPRESSED}' takes no qps or qualities")
        qps = qualities = []
    else:
        qps, qualities = _rate_points(registry.get(tool), qps, qualities, settings, f"{where} ({name})")
        _check_tool_settings(registry.get(tool), settings, f"{where} ({name}): settings")
    inner = entry.get("inner") or {}
    _check_keys(inner, INNER_KEYS, f"{where} ({name}): inner")
    resample = entry.get("resample")
    if resample is not None and tool != UNCOMPRESSED:
        _check_tool_settings(registry.get(tool), {"resample": resample}, f"{where} ({name})")
    elif resample is not None:
        raise ConfigError(f"{where} ({name}): '{UNCOMPRESSED}' takes no 'resample'")
    decode = _decode_settings(entry.get("decode") or {}, None if tool == UNCOMPRESSED else registry.get(tool),
                              f"{where} ({name}): decode")
    return CodecConfig(name=name, tool=tool, qps=qps, qualities=qualities,
                       resample=None if resample is None else str(resample),
                       settings=dict(settings), inner=dict(inner), label=entry.get("label"), decode=decode)


def _decode_settings(values, tool: ToolEntry | None, where: str) -> dict:
    """A codec's ``decode`` mapping, checked: ``max_groups`` (a non-negative integer; tools whose decoder has
    channel groups) and ``task_network`` (a task network of the syntax; tools whose decoder has adapters)."""
    from ...common.syntax.structures import TASK_NETWORKS

    _check_keys(values, DECODE_KEYS, where)
    if values and tool is None:
        raise ConfigError(f"{where}: '{UNCOMPRESSED}' decodes nothing")
    if "max_groups" in values:
        _int(values["max_groups"], f"{where}: max_groups", 0)
        if not tool.groups:
            raise ConfigError(f"{where}: max_groups: {tool.name} streams have no channel groups to leave out")
    if "task_network" in values:
        names = [n for n in TASK_NETWORKS.values() if n != "none"]
        if values["task_network"] not in names:
            raise ConfigError(f"{where}: unknown task_network {values['task_network']!r} (known: {', '.join(names)})")
        if not tool.adapters:
            raise ConfigError(f"{where}: task_network: {tool.name}'s decoder has no task adapters")
    return dict(values)


def _rate_points(tool: ToolEntry, qps, qualities, settings: dict, where: str) -> tuple[list[int], list[int]]:
    """(qps, qualities) of a codec of ``tool``: the list of its rate parameter, in the tool's range (a learned
    tool's qualities: those with weights for the codec's model family)."""
    given, other = ("qualities", "qps") if tool.rate.name == "quality" else ("qps", "qualities")
    values = qualities if given == "qualities" else qps
    if (qps if other == "qps" else qualities):
        raise ConfigError(f"{where}: {tool.name} takes '{given}', not '{other}'")
    what = "QP" if tool.rate.name == "qp" else tool.rate.name
    values = _value_list(values, where, given, what, tool.rate.minimum, tool.rate.maximum)
    offered = tool.rate_values(settings.get("model"))
    missing = [v for v in values if v not in offered]
    if missing:
        family = f" model {settings.get('model') or tool.models.default_family}" if tool.models else ""
        raise ConfigError(f"{where}: {tool.name}{family} has no {what} {missing[0]} (offered: "
                          f"{', '.join(map(str, offered)) or 'none'})")
    return (values, []) if given == "qps" else ([], values)


def _check_tool_settings(tool: ToolEntry, settings: dict, where: str) -> None:
    """ConfigError for a setting that belongs to other tools than ``tool``."""
    owners = default_registry().owners
    for key in settings:
        if key in default_registry().settings() and key not in tool.setting_names():
            raise ConfigError(f"{where}: '{key}' is a setting of {', '.join(owners(key))}, not of {tool.name}")


def _value_list(values, where: str, key: str, what: str, minimum: int, maximum: int | None) -> list[int]:
    if isinstance(values, int) and not isinstance(values, bool):
        values = [values]
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{where}: '{key}' must be a non-empty list of {what} values")
    values = [_int(v, f"{where}: {what}", minimum, maximum) for v in values]
    if len(set(values)) != len(values):
        raise ConfigError(f"{where}: a {what} is listed twice")
    return values


# -- resources ------------------------------------------------------------------------------------


def check_resources(config: CtcConfig):
    """Check that everything the run needs is there; return the dataset (see :mod:`.dataset`).
    Raises the first problem as an IcmError with one line."""
    dataset = load_dataset(config.dataset)
    _check_device(config.device)
    from ...common.tasknet.registry import load_task_network
    load_task_network(config.task_network, input_size=config.task_input_size, device="cpu")
    checked = set()
    for codec in config.codecs:
        if not codec.coded:
            continue
        encoder = config.encoder_config(codec, codec.values[0])
        tool = _encoder(codec.tool)
        for value in codec.values:
            tool.check_resources(config.encoder_config(codec, value))
        inner = encoder.inner
        key = (inner.encoder, inner.decoder, inner.vtm_encoder, inner.vtm_decoder, inner.vtm_cfg)
        if key not in checked:
            check_inner_codec(inner)
            checked.add(key)
    return dataset


def _check_device(device: str) -> None:
    if device.startswith("cuda"):
        import torch
        if not torch.cuda.is_available():
            raise ResourceError(f"device '{device}' asked for, but no CUDA device is available here")
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ResourceError(f"device '{device}' asked for, but there are {torch.cuda.device_count()} CUDA devices")


def check_inner_codec(inner) -> None:
    """The configured VVC encoder and decoder exist (ffmpeg with libvvenc and the vvc decoder, or the
    VTM programs), else ResourceError."""
    from ...common.innercodec import vtm, vvenc_ffmpeg

    if inner.encoder == "vtm":
        vtm.find_vtm_program(inner.vtm_encoder, vtm.ENV_ENCODER, "EncoderApp")
        vtm.find_vtm_cfg(inner.vtm_cfg)
    elif inner.encoder == "vvenc":
        if inner.preset not in PRESETS:
            raise ConfigError(f"unknown preset '{inner.preset}' (use one of {', '.join(PRESETS)})")
        ffmpeg = vvenc_ffmpeg.find_ffmpeg()
        vvenc_ffmpeg.require_ffmpeg_component(ffmpeg, "encoder", "libvvenc")
    else:
        raise ConfigError(f"unknown inner codec '{inner.encoder}' (use vvenc or vtm)")
    if inner.decoder == "vtm":
        vtm.find_vtm_program(inner.vtm_decoder, vtm.ENV_DECODER, "DecoderApp")
    elif inner.decoder == "ffmpeg":
        ffmpeg = vvenc_ffmpeg.find_ffmpeg()
        vvenc_ffmpeg.require_ffmpeg_component(ffmpeg, "decoder", "vvc")
    else:
        raise ConfigError(f"unknown inner decoder '{inner.decoder}' (use ffmpeg or vtm)")


__all__ = ["CtcConfig", "CodecConfig", "DatasetConfig", "StatisticsConfig", "BdConfig", "UNCOMPRESSED",
           "load_ctc_config", "check_resources", "check_inner_codec", "apply_override", "config_from_dict"]
