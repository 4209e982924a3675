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
    model: str | None = None  # learned tools: model family (mfc: mfc, noxs, nogroup, short); None = the tool's default
    refine_steps: int | None = None  # mfc: encoder-side latent refinement steps per coded tensor (0 = off); None = default
    inner: InnerCodecConfig = field(default_factory=InnerCodecConfig)


@dataclass
class DecoderConfig:
    device: str = "cpu"
    max_groups: int | None = None  # decode only the first k channel groups (rate-scalable streams)
    inner: InnerCodecConfig = field(default_factory=InnerCodecConfig)


def _update(target, values: dict, where: str) -> None:
    known = {f.name: f for f in fields(target)}
    for key, value in values.items():
        key = key.replace("-", "_")
        if key not in known:
            raise ConfigError(f"{where}: unknown setting '{key}' (known: {', '.join(sorted(known))})")
        current = getattr(target, key)
        if isinstance(current, InnerCodecConfig):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: '{key}' must be a mapping")
            _update(current, value, f"{where}: {key}")
        else:
            setattr(target, key, value)


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
