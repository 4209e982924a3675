"""The one place where the inner codecs run external programs (ffmpeg, VTM).

:func:`run_tool` runs a command with a timeout, captures stdout and stderr, and turns every
failure into a one-line :class:`~icm.common.errors.IcmError`:

* the program cannot be started (missing, not executable) -> ``ResourceError``;
* it runs past ``timeout_s`` -> it is killed and ``error_class`` is raised;
* it exits with a non-zero status -> ``error_class`` with the most telling line of its output.
"""
from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence

from ..errors import IcmError, ResourceError

_TELLING_WORDS = ("error", "invalid", "failed", "not found", "unknown", "no such", "cannot", "unable")
_ADDRESS = re.compile(r" @ 0x[0-9a-fA-F]+")


def run_tool(args: Sequence[str], *, what: str, timeout_s: float,
             error_class: type[IcmError], input_bytes: bytes | None = None,
             cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run ``args``; return the completed process (stdout/stderr as bytes) if it exits with 0.

    ``what`` names the step in messages (e.g. "VVenC encoding"). ``input_bytes`` is fed on stdin
    (otherwise stdin is /dev/null).
    """
    args = [str(arg) for arg in args]
    try:
        completed = subprocess.run(
            args, input=input_bytes, stdin=None if input_bytes is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout_s, cwd=cwd, check=False)
    except FileNotFoundError:
        raise ResourceError(f"{what}: program not found: {args[0]}") from None
    except PermissionError:
        raise ResourceError(f"{what}: program is not executable: {args[0]}") from None
    except subprocess.TimeoutExpired:
        # subprocess.run has already killed and reaped the child.
        raise error_class(f"{what} did not finish within {timeout_s:g} s") from None
    except OSError as exc:
        raise ResourceError(f"{what}: cannot run {args[0]}: {exc.strerror or exc}") from None
    if completed.returncode != 0:
        detail = telling_line(completed.stderr) or telling_line(completed.stdout) or "no message"
        raise error_class(f"{what} failed (exit status {completed.returncode}): {detail}")
    return completed


def telling_line(output: bytes, max_chars: int = 240) -> str:
    """The first output line that looks like an error message, else the last non-empty line."""
    lines = [" ".join(_ADDRESS.sub("", line).split())
             for line in output.decode("utf-8", errors="replace").splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    for line in lines:
        if any(word in line.lower() for word in _TELLING_WORDS):
            return line[:max_chars]
    return lines[-1][:max_chars]
