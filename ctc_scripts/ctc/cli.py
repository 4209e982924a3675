"""icm-ctc: run the common test conditions, rebuild their report, compare two runs.

    icm-ctc run cfg/ctc/coco-val-dev.yaml [--jobs 2] [--device cuda] [--preset faster] [--set KEY=VALUE]
    icm-ctc report results/coco-val-dev [--codec NAME ... -o FOLDER]
    icm-ctc compare results/run-a results/run-b
    icm-ctc retask results/coco-val-dev --task-network yolo-fastest-1.1 -o results/coco-val-dev-yf11

Errors are one line, ``icm-ctc: error: ...``, with the exit statuses of docs/usage.md.
"""
from __future__ import annotations

from pathlib import Path

import click

from ...common.cli import IcmGroup, IcmOption, guarded, version_option
from ...common.config import PRESETS
from ...common.errors import ConfigError
from ...common.fileio import write_bytes_atomically
from .records import DEFAULT_OUTPUT_ROOT
from .backends import BACKENDS

PROGRAM = "icm-ctc"


@version_option(PROGRAM)
@click.group(PROGRAM, cls=IcmGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """Common test conditions (CTC) of the ICM codecs: mAP against bpp, BD-rate, reports."""


@main.command()
@click.argument("config_path", metavar="CONFIG.yaml")
@click.option("-o", "--output", default=None, cls=IcmOption, show_default=f"{DEFAULT_OUTPUT_ROOT}/<name>",
              help="Results folder.")
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=None, cls=IcmOption,
              show_default="the configuration's jobs, else 1", help="Images in parallel processes.")
@click.option("--device", default=None, help="Device of the neural networks: cpu, cuda or cuda:N.")
@click.option("--preset", type=click.Choice(PRESETS), default=None, help="VVenC preset of every codec.")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="Only the first N images of the dataset.")
@click.option("--codec", "codecs", multiple=True, help="Only this codec (repeatable).")
@click.option("--bootstrap", type=click.IntRange(0, 100000), default=None, cls=IcmOption,
              show_default="the configuration's", help="Bootstrap replicates (0: no intervals).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a configuration value, e.g. codecs.vvc-feature.qps=[32,37].")
@click.option("--check", is_flag=True, help="Only check the configuration and resources, print the plan.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--backend", type=click.Choice(BACKENDS), default="local", show_default=True,
              help="Where the items run: processes here (--jobs), or the workers of a Dask cluster "
                   "(pip install 'icm-codec[distributed]').")
@click.option("--address", default=None, metavar="ADDR",
              help="With --backend dask: the scheduler (tcp://host:8786) or its scheduler file; without it, a "
                   "local cluster of --jobs workers.")
@guarded(PROGRAM)
def run(config_path, output, jobs, device, preset, limit, codecs, bootstrap, overrides, check, quiet, backend,
        address):
    """Run the CTC of CONFIG.yaml (finishing what an earlier run left), then write its report."""
    import signal

    from .config import load_ctc_config
    from .runner import check_run_resources, failures_error, plan, run_ctc

    # A run started in the background (nohup ... &) inherits an ignored SIGINT: make kill -INT stop it too.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    config = load_ctc_config(config_path, overrides=list(overrides), output=output, jobs=jobs, device=device,
                             preset=preset, limit=limit, codecs=list(codecs) or None, bootstrap=bootstrap)
    dataset = check_run_resources(config, backend, address)
    points = config.points()
    where = (f"jobs {config.jobs}" if backend == "local" else f"backend {backend} at {address}" if address
             else f"backend {backend}, {config.jobs} local workers")
    click.echo(f"icm-ctc: {config.name}: {dataset.name} ({len(dataset)} images), {len(points)} points, "
               f"{config.task_network} at {config.task_input_size}, device {config.device}, {where}, "
               f"results in {config.output_dir()}")
    if check:
        from ...common.registry import default_registry

        for codec, value in points:
            summary = (default_registry().get(codec.tool).summary_line(config.encoder_config(codec, value))
                       if codec.coded else "the original pictures")
            click.echo(f"  {codec.name}: {summary}")
        click.echo(f"  {len(plan(config, dataset))} work items")
        if backend == "dask":
            from .distributed import cluster_summary
            click.echo(f"  backend dask: {cluster_summary(config, address)}")
        return
    summary = run_ctc(config, dataset, progress=not quiet, backend=backend, address=address)
    click.echo(f"icm-ctc: {summary.computed} items computed, {summary.cached} already done, "
               f"{summary.seconds:.0f} s")
    if summary.failures:
        for failure in summary.failures[:10]:
            click.echo(f"icm-ctc: failed: {failure['message']}", err=True)
        raise failures_error(summary)
    _print_report(summary.output)


@main.command()
@click.argument("folder", metavar="RESULTS")
@click.option("--bootstrap", type=click.IntRange(0, 100000), default=None, cls=IcmOption,
              show_default="the run's configuration", help="Bootstrap replicates.")
@click.option("--no-plot", is_flag=True, help="Do not draw rd.png.")
@click.option("--codec", "codecs", multiple=True,
              help="Only this codec (repeatable; the task-fidelity reference is always kept).")
@click.option("-o", "--output", default=None,
              help="Write the report files into this folder instead of RESULTS (e.g. for some of its codecs).")
@guarded(PROGRAM)
def report(folder, bootstrap, no_plot, codecs, output):
    """Rebuild the tables and the plot of a finished run from its records."""
    from .report import build_report

    if codecs and output is None:
        raise ConfigError("--codec needs -o FOLDER (the report of some codecs goes beside the run's, not over it)")
    report = build_report(folder, bootstrap=bootstrap, make_plot=not no_plot, codecs=list(codecs) or None,
                          output=output)
    _print_report(Path(output if output is not None else folder), plot=not no_plot)
    if codecs and not report["anchors"]:
        from .report import load_run

        anchors = ", ".join(load_run(folder)[0].anchors) or "none"
        click.echo(f"icm-ctc: note: none of the run's anchors ({anchors}) is selected: the report has no BD rows")


@main.command()
@click.argument("folder_a", metavar="RESULTS_A")
@click.argument("folder_b", metavar="RESULTS_B")
@click.option("-o", "--output", default=None, help="Also write the table as CSV here.")
@guarded(PROGRAM)
def compare(folder_a, folder_b, output):
    """Compare run B with run A: per-point changes and BD of B's curves against A's."""
    from .report import compare_runs

    text, table = compare_runs(folder_a, folder_b)
    click.echo(text, nl=False)
    if output:
        write_bytes_atomically(output, table.encode())


@main.command()
@click.argument("source", metavar="RESULTS")
@click.option("--task-network", required=True, help="The task network that evaluates the decoded pictures.")
@click.option("-o", "--output", required=True, help="Results folder of the new evaluation.")
@click.option("--codec", "codecs", multiple=True, help="Only this codec (repeatable); picture codecs only.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@guarded(PROGRAM)
def retask(source, task_network, output, codecs, quiet):
    """Evaluate the kept streams of a finished run with another task network (no re-encoding), then its report."""
    from .retask import run_retask

    run_retask(source, task_network, output, list(codecs) or None, progress=not quiet)
    _print_report(Path(output))


def _print_report(folder: Path, plot: bool = True) -> None:
    click.echo((Path(folder) / "report.md").read_text(), nl=False)
    names = ("points.csv", "summary.csv", "report.md") + (("rd.png",) if plot else ())
    files = ", ".join(str(Path(folder) / name) for name in names)
    click.echo(f"icm-ctc: wrote {files}")


if __name__ == "__main__":
    main()
