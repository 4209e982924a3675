"""icm-dec: decode an ICM bitstream and check its decoded-output hash.

The stream's tool is found in the registry of coding tools by ``ps_tool_id``; ``--help`` imports neither
torch nor any tool, and decoding a picture stream (``vvc-image``) to PNG does not import torch.
"""
from pathlib import Path

import click

from ..common.cli import IcmCommand, IcmOption, guarded, open_trace, option_help, version_option
from ..common.config import DecoderConfig, load_config
from ..common.errors import ConfigError
from ..common.registry import default_registry
from ..common.syntax import structures as S

PROGRAM = "icm-dec"


def write_output(path: str, output) -> None:
    from ..common.fileio import write_npz_atomically
    from ..common.image_io import write_png

    suffix = Path(path).suffix.lower()
    if output.picture is not None:
        if suffix != ".png":
            raise ConfigError(f"a decoded picture is written as PNG, not '{suffix or path}'")
        write_png(path, output.picture)
    else:
        if suffix != ".npz":
            raise ConfigError(f"decoded feature tensors are written as .npz, not '{suffix or path}'")
        import numpy as np

        from ..common.output import GEOMETRY_ARRAY

        arrays = dict(zip(output.feature_names, output.features))
        arrays[GEOMETRY_ARRAY] = np.array(output.geometry, dtype="<u4")  # hashed after the tensors
        write_npz_atomically(path, arrays)


def _params() -> list[click.Parameter]:
    grouped = [e.name for e in default_registry().entries() if e.groups]
    defaults = DecoderConfig()
    return [
        IcmOption(["-i", "--input", "input_path"], required=True, help="ICM bitstream to decode."),
        IcmOption(["-o", "--output", "output_path"], default=None,
                  help="Decoded picture (.png) or feature tensors (.npz); omit to only decode and verify."),
        IcmOption(["--detections", "detections_path"], default=None,
                  help="Split tools: run NN part 2 and write COCO-style detections (JSON) here."),
        IcmOption(["--image-id"], type=int, default=0, show_default=True,
                  help="image_id written into the detections."),
        IcmOption(["--inner-decoder"], type=click.Choice(["ffmpeg", "vtm"]), default=None,
                  show_default=defaults.inner.decoder, help="VVC decoder: embedded ffmpeg or external VTM DecoderApp."),
        IcmOption(["--vtm-decoder"], default=None, help="Path of VTM DecoderApp (else $ICM_VTM_DECODER)."),
        IcmOption(["--max-groups"], type=click.IntRange(min=0), default=None,
                  help=option_help("Decode only the first K channel groups of each coded tensor: a partial "
                                   "decode, not hash-checked", grouped)),
        IcmOption(["--task-network"], default=None,
                  help="Image tools: the task network the decoded picture is for (the tool decides what it does, "
                       "e.g. a decoder-side adapter); with --detections, the detector run on the picture "
                       "(default yolo-fastest-1.1-xl)."),
        IcmOption(["--device"], default=None, show_default=defaults.device,
                  help="Device for neural networks: cpu or cuda."),
        IcmOption(["-c", "--config", "config_path"], default=None, help="YAML file with decoder settings."),
        IcmOption(["--trace"], default=None, help="Write every syntax element to this file ('-': stdout)."),
    ]


@version_option(PROGRAM)
@click.command(PROGRAM, cls=IcmCommand, extra_params=_params, context_settings={"help_option_names": ["-h", "--help"]})
@guarded(PROGRAM)
def main(input_path, output_path, detections_path, image_id, inner_decoder, vtm_decoder, max_groups, task_network,
         device, config_path, trace):
    """Decode INPUT, verify the decoded-output hash, and write the decoded output."""
    from .pipeline import decode_bytes, read_bitstream_file

    config = load_config(DecoderConfig, config_path, device=device, max_groups=max_groups, task_network=task_network,
                         inner_decoder=inner_decoder, inner_vtm_decoder=vtm_decoder)
    data = read_bitstream_file(input_path)
    tracer, handle = open_trace(trace)
    try:
        result = decode_bytes(data, config, tracer=tracer)
    finally:
        if handle is not None:
            handle.close()
    ps = result.bitstream.parameter_set
    click.echo(f"{PROGRAM}: {input_path}: {result.tool}, {len(data)} bytes = {8 * len(data)} bits, "
               f"picture {ps['ps_picture_width']}x{ps['ps_picture_height']}, "
               f"{8 * len(data) / (ps['ps_picture_width'] * ps['ps_picture_height']):.4f} bpp, "
               f"decode {result.decode_seconds:.2f} s")
    if result.hash_hex is None:
        click.echo(f"  decoded-output MD5 {result.output.md5().hex()}: hash not checked (partial decode)")
    elif result.output.adapted_for is not None:
        kind = S.HASH_NAMES[result.bitstream.output_hash["dh_hash_type"]]
        click.echo(f"  plain picture's {kind} {result.hash_hex}: matches the stream")
        click.echo(f"  output adapted for {result.output.adapted_for} (its task adapter; not covered by the hash): "
                   f"MD5 {result.output.md5().hex()}")
    else:
        kind = S.HASH_NAMES[result.bitstream.output_hash["dh_hash_type"]]
        click.echo(f"  decoded-output {kind} {result.hash_hex}: matches the stream")
        if kind != "MD5":
            click.echo(f"  decoded-output MD5 {result.output.md5().hex()}")
    if output_path is not None:
        write_output(output_path, result.output)
        click.echo(f"  wrote {output_path}")
    if detections_path is not None:
        from ..common.fileio import write_json_atomically
        from .detections import detect_from_features

        if result.output.picture is not None:  # an image tool: the detector on the decoded picture
            detections = detect_on_picture(result.output.picture, config)
        else:
            detections = detect_from_features(result, config)
        write_json_atomically(detections_path, detections.to_coco_results(image_id))
        click.echo(f"  wrote {detections_path}: {len(detections)} detections")


def detect_on_picture(picture, config: DecoderConfig):
    """The detector ``config.task_network`` (default: the XL one) run on a decoded picture."""
    from ..common.tasknet.registry import load_task_network

    return load_task_network(config.task_network or "yolo-fastest-1.1-xl", device=config.device).detect(picture)


if __name__ == "__main__":
    main()
