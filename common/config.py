"""Encoder and decoder settings, from defaults, a YAML file and the command line (in that order)."""
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from .errors import ConfigError

PRESETS = ("faster", "fast", "medium", "slow", "slower")


@dataclass
class InnerCodecConfig:
    """Which implementation runs the inner (VVC) codec, and where the external VTM programs are."""

    encoder: str = "vvenc"  # "vvenc" (ffmpeg + libvvenc, embedded) or "vtm" (external EncoderApp)
    decoder: str = "ffmpeg"  # "ffmpeg" (embedded VVC decoder) or "vtm" (external DecoderApp)
    preset: str = "medium"  # VVenC preset
    vtm_encoder: str | None = None  # path of EncoderApp (else $ICM_VTM_ENCODER)
    vtm_decoder: str | None = None  # path of DecoderApp (else $ICM_VTM_DECODER)
    vtm_cfg: str | None = None  # VTM encoder configuration file (else $ICM_VTM_CFG)


@dataclass
class EncoderConfig:
    tool: str = "vvc-image"
    qp: int = 37
    resample: str | None = None  # None, "task" (the task network's input size), "WxH" or a scale such as "0.5"
    task_network: str = "yolo-fastest-1.1-xl"
    task_input_size: int = 320
    feature_bit_depth: int = 10
    colour_matrix: str = "bt601"
    full_range: bool = False
    device: str = "cpu"
    quality: int | None = None  # learned tools: rate point (model quality); None = the tool's default
    model: str | None = None  # learned tools: model family; None = the tool's default
    refine_steps: int | None = None  # learned tools: encoder-side latent refinement steps (0 = off); None = default
    output_hash: str = "crc32"  # decoded-output hash in the stream: "crc32" (4 bytes) or "md5" (16, conformance)
    inner: InnerCodecConfig = field(default_factory=InnerCodecConfig)
    # settings of registered tools that this class does not name (a new tool's own settings), by name
    tool_settings: dict = field(default_factory=dict)


@dataclass
class DecoderConfig:
    device: str = "cpu"
    max_groups: int | None = None  # decode only the first k channel groups (rate-scalable streams)
    task_network: str | None = None  # image tools: the task network the decoded picture is for (tool-defined)
    inner: InnerCodecConfig = field(default_factory=InnerCodecConfig)


def _update(target, values: dict, where: str) -> None:
    known = {f.name: f for f in fields(target)}
    for key, value in values.items():
        key = key.replace("-", "_")
        if key not in known and key in _tool_setting_names(target):
            target.tool_settings[key] = value
            continue
        if key not in known:
            names = sorted(set(known) | _tool_setting_names(target))
            raise ConfigError(f"{where}: unknown setting '{key}' (known: {', '.join(names)})")
        current = getattr(target, key)
        if key == "tool_settings":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: 'tool_settings' must be a mapping")
            current.update(value)
        elif isinstance(current, InnerCodecConfig):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: '{key}' must be a mapping")
            _update(current, value, f"{where}: {key}")
        else:
            setattr(target, key, value)


def _tool_setting_names(target) -> set[str]:
    """Names of the registered tools' settings that ``target`` (an EncoderConfig) keeps in ``tool_settings``."""
    if not isinstance(target, EncoderConfig):
        return set()
    from .registry import default_registry

    return set(default_registry().settings()) - {f.name for f in fields(EncoderConfig)}


def load_config(kind: type, path: str | None = None, **overrides):
    """A ``kind`` (EncoderConfig/DecoderConfig) from defaults, the YAML file ``path`` and ``overrides``
    (None values are ignored; keys of the inner codec may be given as ``inner_<key>``)."""
    config = kind()
    if path is not None:
        try:
            values = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"configuration file not found: {path}") from None
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read configuration {path}: {str(exc).splitlines()[0]}") from None
        if not isinstance(values, dict):
            raise ConfigError(f"configuration {path} is not a mapping")
        _update(config, values, path)
    inner = {k[len("inner_"):]: v for k, v in overrides.items() if k.startswith("inner_") and v is not None}
    plain = {k: v for k, v in overrides.items() if not k.startswith("inner_") and v is not None}
    _update(config, plain, "command line")
    _update(config.inner, inner, "command line")
    if config.inner.preset not in PRESETS:
        raise ConfigError(f"unknown preset '{config.inner.preset}' (use one of {', '.join(PRESETS)})")
    return config
