"""What the command-line shells share: one-line errors with documented exit statuses (click's usage errors
included), ``--version``, options made when a command runs, and the trace format."""
import functools
import os
import sys
from typing import Callable

import click

from .errors import IcmError, OutputError

EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 1
PACKAGE = "icm-codec"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class _OneLineErrors:
    """Mixin for a click command or group: usage errors (unknown option, bad value, ...) and IcmErrors raised
    while the command line is read are printed as one line, ``<program>: error: <message>``, with their exit
    status (2 for usage errors), not as click's usage block."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        program = self.name
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:  # UsageError, BadParameter, NoSuchOption, ...
            if not standalone_mode:
                raise
            click.echo(f"{program}: error: {_one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except IcmError as exc:
            if not standalone_mode:
                raise
            click.echo(f"{program}: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            if not standalone_mode:
                raise
            click.echo(f"{program}: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)


class IcmCommand(_OneLineErrors, click.Command):
    """A command with one-line errors; ``extra_params`` (a function returning click parameters) adds options
    when the command runs, e.g. from the registry of coding tools (not when its module is imported)."""

    def __init__(self, *args, extra_params: Callable[[], list] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._extra_params = extra_params
        self._extra: list | None = None

    def get_params(self, ctx):
        if self._extra is None and self._extra_params is not None:
            self._extra = list(self._extra_params())
            self.params = [*self._extra, *self.params]  # before the static ones (--version)
        return super().get_params(ctx)


class IcmGroup(_OneLineErrors, click.Group):
    """A group of commands with one-line errors."""


class IcmOption(click.Option):
    """An option whose ``show_default`` text (a default taken from the registry or the configuration while
    the option's own default stays None, so that a YAML file can set it) is shown as it is, not in
    parentheses."""

    def get_help_extra(self, ctx):
        extra = super().get_help_extra(ctx)
        if isinstance(self.show_default, str):
            extra["default"] = self.show_default
        return extra


def option_help(text: str, tools: list[str]) -> str:
    """``text`` with the tools that have the option: 'Text (tool-a, tool-b).'"""
    return f"{text.rstrip('.')} ({', '.join(tools)})." if tools else text


def version_option(program: str):
    """``--version``: the package version and the bitstream syntax version this build writes and reads."""
    from .syntax.structures import SYNTAX_VERSION_MAJOR, SYNTAX_VERSION_MINOR

    return click.version_option(
        package_name=PACKAGE, prog_name=program,
        message=f"%(prog)s %(version)s (ICM bitstream syntax {SYNTAX_VERSION_MAJOR}.{SYNTAX_VERSION_MINOR})")


def guarded(program: str):
    """Decorator for a click command body: IcmError -> ``program: error: message`` and its exit status."""

    def wrap(function):
        @functools.wraps(function)
        def run(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except IcmError as exc:
                click.echo(f"{program}: error: {exc}", err=True)
                sys.exit(exc.exit_code)
            except BrokenPipeError:  # e.g. --trace - | head: the reader went away
                sys.stderr.close()
                os._exit(0)
            except KeyboardInterrupt:
                click.echo(f"{program}: interrupted", err=True)
                sys.exit(EXIT_INTERRUPTED)
            except (click.exceptions.Exit, click.ClickException, SystemExit):
                raise
            except Exception as exc:  # a bug: still one line, unless ICM_DEBUG asks for the traceback
                if os.environ.get("ICM_DEBUG"):
                    raise
                message = str(exc).splitlines()[0] if str(exc) else ""
                click.echo(f"{program}: internal error: {type(exc).__name__}: {message} "
                           f"(set ICM_DEBUG=1 for a traceback)", err=True)
                sys.exit(EXIT_INTERNAL)

        return run

    return wrap


def format_trace_value(value) -> str:
    if isinstance(value, (bytes, bytearray)):
        shown = bytes(value[:16]).hex()
        return f"{len(value)} bytes: {shown}{'...' if len(value) > 16 else ''}"
    if isinstance(value, float):
        return repr(value)
    return str(value)


class TraceWriter:
    """Writes one line per syntax element: bit position, name, descriptor, value."""

    def __init__(self, stream):
        self.stream = stream

    def __call__(self, position: int, name: str, descriptor: str, value) -> None:
        self.stream.write(f"{position:>10}  {name:<32} {descriptor:<12} {format_trace_value(value)}\n")


def open_trace(target: str | None):
    """(tracer, file to close) for ``--trace TARGET``; ``-`` is standard output."""
    if target is None:
        return None, None
    if target == "-":
        return TraceWriter(sys.stdout), None
    try:
        handle = open(target, "w")
    except OSError as exc:
        raise OutputError(f"cannot write the trace {target}: {exc.strerror or type(exc).__name__}") from None
    return TraceWriter(handle), handle
