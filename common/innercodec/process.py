"""The one place where the inner codecs run external programs (ffmpeg, VTM).

:func:`run_tool` runs a command with a timeout, captures stdout and stderr, and turns every
failure into a one-line :class:`~icm.common.errors.IcmError`:

* the program cannot be started (missing, not executable) -> ``ResourceError``;
* it runs past ``timeout_s`` -> it is killed and ``error_class`` is raised;
* it writes more than ``output_limit`` allows to a file -> it is killed and ``error_class`` is raised
  (decompression bombs: a payload that decodes to many pictures);
* it exits with a non-zero status -> ``error_class`` with the most telling line of its output.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import IcmError, ResourceError

_TELLING_WORDS = ("error", "invalid", "failed", "not found", "unknown", "no such", "cannot", "unable", "exceeds")
_ADDRESS = re.compile(r" @ 0x[0-9a-fA-F]+")
WATCH_INTERVAL_S = 0.01


@dataclass(frozen=True)
class OutputLimit:
    """The program is stopped as soon as the file ``path`` holds more than ``max_bytes`` bytes, and
    ``message`` is raised (checked every ``WATCH_INTERVAL_S`` and once more when it ends)."""

    path: str | os.PathLike
    max_bytes: int
    message: str

    def exceeded(self) -> bool:
        try:
            return os.path.getsize(self.path) > self.max_bytes
        except OSError:  # not written yet
            return False


def run_tool(args: Sequence[str], *, what: str, timeout_s: float,
             error_class: type[IcmError], input_bytes: bytes | None = None,
             cwd: str | None = None, output_limit: OutputLimit | None = None) -> subprocess.CompletedProcess:
    """Run ``args``; return the completed process (stdout/stderr as bytes) if it exits with 0.

    ``what`` names the step in messages (e.g. "VVenC encoding"). ``input_bytes`` is fed on stdin
    (otherwise stdin is /dev/null). ``output_limit`` bounds what it may write to a file.
    """
    args = [str(arg) for arg in args]
    try:
        if output_limit is None:
            completed = subprocess.run(
                args, input=input_bytes, stdin=None if input_bytes is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout_s, cwd=cwd, check=False)
        else:
            completed = _run_watched(args, input_bytes, timeout_s, cwd, output_limit, error_class)
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


def _run_watched(args: list[str], input_bytes: bytes | None, timeout_s: float, cwd: str | None,
                 limit: OutputLimit, error_class: type[IcmError]) -> subprocess.CompletedProcess:
    """``subprocess.run`` that also watches the size of ``limit.path`` while the program runs.

    The program runs in a process group of its own, which is killed whole when it is stopped: a wrapper
    script's children (which hold the output pipes) stop with it.
    """
    deadline = time.monotonic() + timeout_s
    process = subprocess.Popen(args, stdin=subprocess.PIPE if input_bytes is not None else subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, start_new_session=True)
    pending = input_bytes
    try:
        while True:
            try:
                stdout, stderr = process.communicate(
                    pending, timeout=max(0.0, min(WATCH_INTERVAL_S, deadline - time.monotonic())))
                break
            except subprocess.TimeoutExpired:
                pending = None  # communicate keeps feeding what it started with
                if limit.exceeded():
                    raise error_class(limit.message) from None
                if time.monotonic() >= deadline:
                    raise subprocess.TimeoutExpired(args, timeout_s) from None
    except BaseException:
        _kill_group(process)
        raise
    if limit.exceeded():
        raise error_class(limit.message)
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


def _kill_group(process: subprocess.Popen) -> None:
    """Kill the process group that ``process`` leads (while ``process`` is not reaped, its id cannot have
    been reused), and reap ``process``."""
    if process.returncode is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    process.communicate()


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
