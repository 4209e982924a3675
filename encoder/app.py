"""icm-enc: encode a picture into an ICM bitstream."""
import click

from ..common.cli import guarded, open_trace
from ..common.config import PRESETS, EncoderConfig, load_config
from .mfc import MfcEncoder
from .pipeline import encode_file
from .tools import ENCODERS


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-i", "--input", "input_path", required=True, help="Picture to encode (PNG, JPEG, ...).")
@click.option("-o", "--output", "output_path", required=True, help="Bitstream file to write.")
@click.option("-t", "--tool", type=click.Choice(sorted(ENCODERS)), default=None, help="Coding tool [vvc-image].")
@click.option("-q", "--qp", type=int, default=None, help="Quantisation parameter of the inner codec, 0..63 [37].")
@click.option("--preset", type=click.Choice(PRESETS), default=None, help="VVenC preset [medium].")
@click.option("--inner-codec", type=click.Choice(["vvenc", "vtm"]), default=None,
              help="VVC encoder: embedded VVenC or external VTM EncoderApp [vvenc].")
@click.option("--vtm-encoder", default=None, help="Path of VTM EncoderApp (else $ICM_VTM_ENCODER).")
@click.option("--vtm-cfg", default=None, help="VTM encoder configuration file (else $ICM_VTM_CFG).")
@click.option("--resample", default=None,
              help="vvc-image: code at another size: 'task' (task network input), WxH or a scale such as 0.5.")
@click.option("--task-network", default=None, help="Task network for split tools [yolo-fastest-1.1-xl].")
@click.option("--task-input-size", type=int, default=None, help="Task network input size in pixels [320].")
@click.option("--quality", type=int, default=None,
              help="Learned tools (mfc): rate point, the model's quality 1..9 [3]; higher = more bits.")
@click.option("--model", default=None, help="Learned tools (mfc): model family: mfc, noxs, nogroup, short [mfc].")
@click.option("--refine-steps", type=click.IntRange(0, 1000), default=None,
              help="mfc: encoder-side latent refinement, gradient steps per coded tensor; 0 = off [40].")
@click.option("--device", default=None, help="Device for neural networks: cpu or cuda [cpu].")
@click.option("-c", "--config", "config_path", default=None, help="YAML file with encoder settings.")
@click.option("--trace", default=None, help="Write every syntax element to this file ('-': stdout).")
@guarded("icm-enc")
def main(input_path, output_path, tool, qp, preset, inner_codec, vtm_encoder, vtm_cfg, resample, task_network,
         task_input_size, quality, model, refine_steps, device, config_path, trace):
    """Encode INPUT into an ICM bitstream OUTPUT and print its size."""
    config = load_config(EncoderConfig, config_path, tool=tool, qp=qp, resample=resample, task_network=task_network,
                         task_input_size=task_input_size, quality=quality, model=model, refine_steps=refine_steps,
                         device=device, inner_preset=preset,
                         inner_encoder=inner_codec, inner_vtm_encoder=vtm_encoder, inner_vtm_cfg=vtm_cfg)
    tracer, handle = open_trace(trace)
    try:
        result = encode_file(input_path, output_path, config, tracer=tracer)
    finally:
        if handle is not None:
            handle.close()
    if config.tool == "mfc":
        click.echo(f"icm-enc: mfc model {config.model or 'mfc'} quality {config.quality or 'default'}, refinement "
                   f"{MfcEncoder.refine_steps_of(config)} steps: {input_path} {result.width}x{result.height}")
    else:
        click.echo(f"icm-enc: {config.tool} qp {config.qp} (inner codec {config.inner.encoder}, preset "
                   f"{config.inner.preset}): {input_path} {result.width}x{result.height}")
    click.echo(f"  wrote {output_path}: {len(result.data)} bytes = {result.bits} bits, "
               f"{result.bpp:.4f} bpp, encode {result.encode_seconds:.2f} s")
    click.echo(f"  decoded-output MD5 {result.decoded.md5().hex()}")


if __name__ == "__main__":
    main()
