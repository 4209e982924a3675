"""What the command-line shells share: one-line errors with documented exit statuses, and the trace format."""
import functools
import os
import sys

import click

from .errors import IcmError

EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 1


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
    handle = open(target, "w")
    return TraceWriter(handle), handle
