"""icm-enc: encode a picture into an ICM bitstream.

The tools, their rate parameters and their settings come from the registry of coding tools: the options
that depend on it are made when the command runs (``--help`` imports neither torch nor any tool).
"""
import time

import click

from ..common.cli import IcmCommand, IcmOption, guarded, open_trace, option_help, version_option
from ..common.config import PRESETS, EncoderConfig, load_config
from ..common.errors import ConfigError
from ..common.registry import ToolRegistry, default_registry

PROGRAM = "icm-enc"


def _span(values: list[int]) -> str:
    if not values:
        return "none"
    return f"{min(values)}..{max(values)}" if len(values) > 1 else str(values[0])


def _per_tool(pairs: list[tuple[str, object]]) -> str | None:
    """A default as click shows it: the value when every tool has the same, else 'tool: value, ...'."""
    pairs = [(tool, value) for tool, value in pairs if value is not None]
    if not pairs:
        return None
    if len({str(value) for _, value in pairs}) == 1:
        return str(pairs[0][1])
    return ", ".join(f"{tool}: {value}" for tool, value in pairs)


def _rate_options(registry: ToolRegistry) -> list[click.Option]:
    options = []
    qp_tools = registry.with_rate("qp")
    if qp_tools:
        low, high = min(e.rate.minimum for e in qp_tools), max(e.rate.maximum for e in qp_tools)
        options.append(IcmOption(
            ["-q", "--qp"], type=click.IntRange(low, high), default=None, show_default=str(EncoderConfig().qp),
            help=option_help(qp_tools[0].rate.help, [e.name for e in qp_tools])))
    quality_tools = registry.with_rate("quality")
    if quality_tools:
        offered = {e.name: sorted({q for family in (e.models.family_names() if e.models else [None])
                                   for q in e.rate_values(family)}) for e in quality_tools}
        values = sorted({q for qualities in offered.values() for q in qualities}) or [
            q for e in quality_tools for q in (e.rate.minimum, e.rate.maximum)]
        options.append(IcmOption(
            ["--quality"], type=click.IntRange(min(values), max(values)), default=None,
            show_default=_per_tool([(e.name, e.rate.default) for e in quality_tools]),
            help=option_help(quality_tools[0].rate.help,
                             [f"{name}: {_span(qualities)}" for name, qualities in offered.items()])))
    return options


def _setting_options(registry: ToolRegistry) -> list[click.Option]:
    options = []
    for name, owners in registry.settings().items():
        declared = [setting for _, setting in owners if setting.option]
        if not declared:
            continue
        first = declared[0]
        if first.kind is int:
            lows = [s.minimum for s in declared if s.minimum is not None]
            highs = [s.maximum for s in declared if s.maximum is not None]
            kind = click.IntRange(min(lows) if lows else None, max(highs) if highs else None)
        elif first.kind is bool:
            kind = click.BOOL
        elif first.choices is not None:
            kind = click.Choice(sorted({c for s in declared for c in (s.choices or ())}))
        else:
            kind = str
        tools = [entry.name for entry, setting in owners if setting.option]
        options.append(IcmOption(
            [first.option_name], type=kind, default=None,
            show_default=_per_tool([(entry.name, setting.default) for entry, setting in owners if setting.option]),
            help=option_help(first.help, tools)))
    return options


def _params() -> list[click.Parameter]:
    registry = default_registry()
    tools = "; ".join(f"{e.name} ({e.description})" for e in registry.entries())
    defaults = EncoderConfig()
    return [
        IcmOption(["-i", "--input", "input_path"], required=True, help="Picture to encode (PNG, JPEG, ...)."),
        IcmOption(["-o", "--output", "output_path"], required=True, help="Bitstream file to write."),
        IcmOption(["-t", "--tool"], type=click.Choice(registry.names()), default=None,
                     show_default=defaults.tool, help=f"Coding tool: {tools}."),
        *_rate_options(registry),
        *_setting_options(registry),
        IcmOption(["--preset"], type=click.Choice(PRESETS), default=None, show_default=defaults.inner.preset,
                     help="VVenC preset of the inner codec."),
        IcmOption(["--inner-codec"], type=click.Choice(["vvenc", "vtm"]), default=None,
                     show_default=defaults.inner.encoder, help="VVC encoder: embedded VVenC or external VTM "
                                                                "EncoderApp."),
        IcmOption(["--vtm-encoder"], default=None, help="Path of VTM EncoderApp (else $ICM_VTM_ENCODER)."),
        IcmOption(["--vtm-cfg"], default=None, help="VTM encoder configuration file (else $ICM_VTM_CFG)."),
        IcmOption(["--task-network"], default=None, show_default=defaults.task_network,
                     help="Task network of split-inference tools."),
        IcmOption(["--task-input-size"], type=click.IntRange(1, 8192), default=None,
                     show_default=str(defaults.task_input_size), help="Task network input size in pixels."),
        IcmOption(["--device"], default=None, show_default=defaults.device,
                     help="Device for neural networks: cpu or cuda."),
        IcmOption(["--output-hash"], type=click.Choice(["crc32", "md5"]), default=None,
                  show_default=defaults.output_hash,
                  help="Decoded-output hash in the stream: crc32 (4 bytes) or md5 (16 bytes, as conformance "
                       "streams)."),
        IcmOption(["-c", "--config", "config_path"], default=None, help="YAML file with encoder settings."),
        IcmOption(["--trace"], default=None, help="Write every syntax element to this file ('-': stdout)."),
        IcmOption(["--annexb", "annexb_path"], default=None,
                  help="Also write the bare inner-codec bitstream (e.g. a .266 VVC stream) to this file: tools "
                       "whose stream has one inner-codec picture payload (vvc-image, npp-vvc)."),
    ]


def _check_options_fit(tool: str, given: dict) -> None:
    """ConfigError (exit status 2) for a rate parameter or setting given on the command line that ``tool``
    does not have."""
    registry = default_registry()
    entry = registry.get(tool)
    for name in given:
        if name != entry.rate.name and name not in entry.setting_names():
            owners = registry.owners(name)
            raise ConfigError(f"--{name.replace('_', '-')} is an option of {', '.join(owners)}, not of {tool}")


@version_option(PROGRAM)
@click.command(PROGRAM, cls=IcmCommand, extra_params=_params, context_settings={"help_option_names": ["-h", "--help"]})
@guarded(PROGRAM)
def main(input_path, output_path, tool, preset, inner_codec, vtm_encoder, vtm_cfg, task_network, task_input_size,
         device, config_path, trace, annexb_path=None, output_hash=None, qp=None, quality=None, **settings):
    """Encode INPUT into an ICM bitstream OUTPUT and print its size."""
    started = time.perf_counter()
    from .pipeline import encode_file

    config = load_config(EncoderConfig, config_path, tool=tool, qp=qp, quality=quality, task_network=task_network,
                         task_input_size=task_input_size, device=device, output_hash=output_hash,
                         inner_preset=preset,
                         inner_encoder=inner_codec, inner_vtm_encoder=vtm_encoder, inner_vtm_cfg=vtm_cfg, **settings)
    given = {name: value for name, value in {"qp": qp, "quality": quality, **settings}.items() if value is not None}
    _check_options_fit(config.tool, given)
    entry = default_registry().get(config.tool)
    entry.check(config)
    tracer, handle = open_trace(trace)
    try:
        result = encode_file(input_path, output_path, config, tracer=tracer)
    finally:
        if handle is not None:
            handle.close()
    click.echo(f"{PROGRAM}: {entry.summary_line(config)}: {input_path} {result.width}x{result.height}")
    click.echo(f"  wrote {output_path}: {len(result.data)} bytes = {result.bits} bits, "
               f"{result.bpp:.4f} bpp, encode {result.encode_seconds:.2f} s "
               f"({time.perf_counter() - started:.2f} s from the command's start, imports included)")
    click.echo(f"  decoded-output MD5 {result.decoded.md5().hex()}")
    if annexb_path is not None:
        write_inner_payload(result.data, annexb_path)
        click.echo(f"  wrote {annexb_path}: the inner-codec bitstream")


def write_inner_payload(data: bytes, path: str) -> None:
    """Write the one inner-codec picture payload of the ICM stream ``data`` (``--annexb``); a ConfigError
    for a stream without exactly one (e.g. a learned feature codec, or several feature pictures)."""
    from ..common.bitstream import parse
    from ..common.fileio import write_bytes_atomically
    from ..common.syntax.structures import CHROMA_FORMATS

    bitstream = parse(data)
    ps = bitstream.parameter_set
    inner = [unit["pl_data"] for unit in bitstream.payloads if unit["pl_type"] == 1]
    if len(inner) != 1 or ps["ps_inner_codec_id"] == 0 or CHROMA_FORMATS.get(ps["ps_chroma_format_idc"]) == "4:0:0":
        raise ConfigError(f"--annexb: a {bitstream.tool} stream has no single inner-codec picture payload")
    write_bytes_atomically(path, inner[0])


if __name__ == "__main__":
    main()
