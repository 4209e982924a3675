"""icm-conform: run a decoder on a conformance suite and tell whether it conforms (docs/conformance.md).

    icm-conform DIR [--decoder 'CMD {bitstream} {output}'] [--partial-decoder 'CMD ... {max_groups}']
                    [--adapted-decoder 'CMD ... {task_network}'] [--report OUT] [--timeout 60] [--only PATTERN]

Exit status: 0 every entry passed (skipped ones aside), 1 at least one failed, 2 bad command line, 3 the suite's
manifest missing or unreadable or a report that cannot be written, 7 the decoder program missing, 70 an internal
error of icm-conform, 130 interrupted. ``--help`` imports neither numpy nor torch.
"""
from __future__ import annotations

import functools
import os
import sys
import tempfile
from pathlib import Path

import click

from ...common.cli import IcmCommand, version_option
from ...common.errors import ConfigError, IcmError

PROGRAM = "icm-conform"
EXIT_FAILED = 1
EXIT_INTERNAL = 70  # sysexits EX_SOFTWARE: 1 means "a stream failed" here
EXIT_INTERRUPTED = 130


def guarded(function):
    @functools.wraps(function)
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except IcmError as exc:
            click.echo(f"{PROGRAM}: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo(f"{PROGRAM}: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # a bug of icm-conform, not of the decoder under test
            if os.environ.get("ICM_DEBUG"):
                raise
            message = str(exc).splitlines()[0] if str(exc) else ""
            click.echo(f"{PROGRAM}: internal error: {type(exc).__name__}: {message} (set ICM_DEBUG=1 for a "
                       f"traceback)", err=True)
            sys.exit(EXIT_INTERNAL)
    return run


def _progress(result: dict) -> None:
    from .report import entry_label

    note = f"  {result['message']}" if result["result"] != "pass" and result["message"] else ""
    click.echo(f"{result['result']:4}  {entry_label(result)}  {result['seconds']:.2f} s{note}")


@version_option(PROGRAM)
@click.command(PROGRAM, cls=IcmCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("suite", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option("--decoder", "decoder_template", default=None, metavar="'CMD {bitstream} {output}'",
              help="Decoder command, run once per stream: {bitstream} is the stream, {output} the file to write "
                   "(PNG for a picture, .npz for feature tensors); without {output} the command prints the MD5. "
                   "Default: this suite's decoder (icm-dec).")
@click.option("--partial-decoder", "partial_template", default=None,
              metavar="'CMD {bitstream} {output} {max_groups}'",
              help="Command for the partial-decode entries (first {max_groups} channel groups); without it a "
                   "--decoder command skips them.")
@click.option("--adapted-decoder", "adapted_template", default=None,
              metavar="'CMD {bitstream} {output} {task_network}'",
              help="Command for the adapted-decode entries (the picture of {task_network}'s decoder-side adapter); "
                   "without it a --decoder command skips them.")
@click.option("--report", "report_path", default=None, metavar="OUT",
              help="Write the pass/fail table to OUT.md and OUT.json.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
              help="Time limit per stream, seconds.")
@click.option("--only", "patterns", multiple=True, metavar="PATTERN",
              help="Run only the entries whose name matches this shell pattern (repeatable).")
@guarded
def main(suite, decoder_template, partial_template, adapted_template, report_path, timeout, patterns):
    """Decode every stream of the conformance suite DIR and compare each output's MD5 with its manifest."""
    from . import manifest as M
    from .decoders import BuiltinDecoder, CommandDecoder
    from .report import markdown, summary_line, write_reports
    from .runner import run_suite, select

    manifest = M.load(suite)
    if patterns and not select(manifest["entries"], list(patterns)):
        raise ConfigError(f"--only: no entry of {suite} matches {', '.join(patterns)}")
    for option, template in (("--partial-decoder", partial_template), ("--adapted-decoder", adapted_template)):
        if template is not None and decoder_template is None:
            raise ConfigError(f"{option} needs --decoder")
    with tempfile.TemporaryDirectory(prefix="icm-conform-") as scratch:
        workdir = Path(scratch)
        if decoder_template is None:
            decoder = BuiltinDecoder(workdir / "decoder.log")
        else:
            decoder = CommandDecoder(decoder_template, partial_template, adapted_template)
            decoder.check()
        results = run_suite(manifest, suite, decoder, timeout, workdir, list(patterns), progress=_progress)
    click.echo("")
    click.echo(markdown(results, str(suite), decoder.description), nl=False)
    if report_path is not None:
        md_path, json_path = write_reports(report_path, results, str(suite), decoder.description)
        click.echo(f"wrote {md_path} and {json_path}")
    click.echo(summary_line(results))
    return EXIT_FAILED if any(r["result"] == "fail" for r in results) else 0


if __name__ == "__main__":
    main()
