"""One coding tool as the registry knows it: names, classes by import path, rate parameter, settings, models.

Nothing here imports a tool: the encoder and decoder classes are named by import path
(``"icm.encoder.mfc:MfcEncoder"``) and imported on first use, so listing, checking and ``--help`` stay light.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from ..models.zoo import ModelSet, load_object

RATE_PARAMETERS = ("qp", "quality")


@dataclass(frozen=True)
class Setting:
    """An encoder setting of a tool: an ``EncoderConfig`` field, or a key of ``EncoderConfig.tool_settings``
    for a setting that the shared configuration does not name. ``None`` in the configuration means the
    default. ``kind`` is ``int`` (with ``minimum``/``maximum``), ``str`` (with ``choices`` or free) or
    ``bool``; ``option``: ``icm-enc`` has ``--<name>`` for it (else YAML / CTC ``settings`` only)."""

    name: str
    default: object
    help: str
    kind: type = str
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple | None = None
    option: bool = True

    @property
    def option_name(self) -> str:
        return "--" + self.name.replace("_", "-")

    def check(self, value, tool: str) -> None:
        """ConfigError (one line) unless ``value`` is a valid value (None: the default)."""
        if value is None:
            return
        if self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{tool}: {self.name} must be an integer, not {value!r}")
            low = self.minimum if self.minimum is not None else "-inf"
            high = self.maximum if self.maximum is not None else "inf"
            if (self.minimum is not None and value < self.minimum) or (
                    self.maximum is not None and value > self.maximum):
                raise ConfigError(f"{tool}: {self.name} must be an integer in {low}..{high}, not {value!r}")
        elif self.kind is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{tool}: {self.name} must be true or false, not {value!r}")
        elif self.choices is not None and value not in self.choices:
            raise ConfigError(f"{tool}: unknown {self.name} '{value}' (known: {', '.join(map(str, self.choices))})")
        elif self.choices is None and not isinstance(value, (str, int, float)):
            raise ConfigError(f"{tool}: {self.name} must be a value, not {value!r}")


@dataclass(frozen=True)
class RateParameter:
    """What sets a tool's rate point: ``qp`` (the inner codec's quantisation parameter) or ``quality``
    (a learned tool's rate point; the qualities offered are those with weights, see ``ToolEntry.rate_values``)."""

    name: str
    default: int
    minimum: int
    maximum: int
    help: str

    def __post_init__(self):
        if self.name not in RATE_PARAMETERS:
            raise ValueError(f"rate parameter '{self.name}': use one of {', '.join(RATE_PARAMETERS)}")


@dataclass(frozen=True)
class ToolEntry:
    """One coding tool. ``summary`` is the line ``icm-enc`` prints, a ``str.format`` template over the
    resolved settings (``{qp}``, ``{quality}``, each setting), ``{tool}`` and ``{inner}`` (the inner-codec
    settings); ``description`` is one line for ``--help`` and the docs. ``tool_id`` None: the id that the
    syntax's ``TOOLS`` table gives ``name`` (a tool outside the specification gives its own, not in that
    table). ``groups``: the decoder can decode the first K channel groups (``icm-dec --max-groups``).
    ``adapters``: the decoder can adapt its picture to a task network (``icm-dec --task-network``, the
    DecoderConfig's ``task_network``; ci-icm's TSCA adapters); other tools' decoders ignore that setting.
    ``default_anchor``: the CTC compares against the first codec of this tool when its configuration names
    no anchors."""

    name: str
    encoder: str
    decoder: str
    rate: RateParameter
    summary: str
    description: str
    settings: tuple[Setting, ...] = ()
    models: ModelSet | None = None
    groups: bool = False
    adapters: bool = False
    default_anchor: bool = False
    tool_id: int | None = None

    def encoder_class(self) -> type:
        return _load_class(self.encoder, self.name, "encoder")

    def decoder_class(self) -> type:
        return _load_class(self.decoder, self.name, "decoder")

    def all_settings(self) -> tuple[Setting, ...]:
        """The tool's settings; a learned tool also has ``model`` (its model families)."""
        if self.models is None:
            return self.settings
        model = Setting("model", self.models.default_family, "Model family of a learned tool.",
                        choices=tuple(self.models.family_names()))
        return (model,) + tuple(s for s in self.settings if s.name != "model")

    def setting_names(self) -> set[str]:
        return {s.name for s in self.all_settings()}

    def rate_values(self, family: str | None = None) -> list[int]:
        """The rate points offered: every value of the range, or, when the quality picks the model, the
        qualities with weights of ``family``."""
        values = range(self.rate.minimum, self.rate.maximum + 1)
        if self.models is None or self.rate.name != "quality":
            return list(values)
        return [q for q in self.models.available(family) if q in values]

    def model_choice(self, config) -> tuple[str, int]:
        """(family, quality) of the model that ``config`` asks for: the quality is the rate point when the
        rate is the quality; a tool whose rate is the QP (e.g. a QP-adaptive network before an inner codec)
        uses its model set's first quality."""
        settings = self.resolve(config)
        quality = settings["quality"] if self.rate.name == "quality" else self.models.qualities[0]
        return self.models.family(settings["model"]).name, quality

    def value(self, config, name: str):
        """The value ``config`` gives setting ``name`` (None: unset)."""
        if hasattr(config, name):
            return getattr(config, name)
        return (getattr(config, "tool_settings", None) or {}).get(name)

    def resolve(self, config) -> dict:
        """The rate parameter and every setting of the tool, with the defaults filled in for unset ones."""
        rate = self.value(config, self.rate.name)
        values = {self.rate.name: self.rate.default if rate is None else rate}
        for setting in self.all_settings():
            value = self.value(config, setting.name)
            values[setting.name] = setting.default if value is None else value
        return values

    def check(self, config) -> None:
        """ConfigError (one line) for a rate point or a setting of ``config`` that this tool does not offer."""
        rate = self.value(config, self.rate.name)
        if rate is not None:
            if isinstance(rate, bool) or not isinstance(rate, int):
                raise ConfigError(f"{self.name}: {self.rate.name} must be an integer, not {rate!r}")
            if not self.rate.minimum <= rate <= self.rate.maximum:
                label = "QP" if self.rate.name == "qp" else self.rate.name
                raise ConfigError(f"{self.name}: {label} {rate} outside {self.rate.minimum}..{self.rate.maximum}")
        for setting in self.all_settings():
            setting.check(self.value(config, setting.name), self.name)
        if self.models is not None:
            if self.rate.name == "quality":
                self.models.check_quality(*self.model_choice(config))
            else:  # a tool whose rate is the QP has one model: its missing weights are a ResourceError
                self.models.find_file(*self.model_choice(config))

    def summary_line(self, config) -> str:
        values = {"tool": self.name, "inner": getattr(config, "inner", None), **self.resolve(config)}
        return self.summary.format(**values)


def _load_class(path: str, tool: str, side: str) -> type:
    """The class ``path`` names; a ConfigError when the entry names a module or class that does not exist
    (an import error inside an existing module is a bug and propagates)."""
    try:
        return load_object(path)
    except ModuleNotFoundError as exc:
        if not path.partition(":")[0].startswith(str(exc.name)):
            raise
        raise ConfigError(f"tool '{tool}': its {side} {path} does not exist ({exc})") from None
    except (AttributeError, ValueError) as exc:
        raise ConfigError(f"tool '{tool}': its {side} {path} does not exist ({exc})") from None
