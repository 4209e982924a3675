"""The decoders ``icm-conform`` runs: this suite's own (a long-lived worker process) or any program named by a
command template. Each ``run`` gives the exit status (None after a timeout), the standard output and a short
message, and never lets a decoder outlive its time limit (its whole process group is killed).
"""
from __future__ import annotations

import json
import os
import queue
import shlex
import shutil
import signal
import string
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ...common.errors import ConfigError, ResourceError

@dataclass
class Invocation:
    status: int | None  # exit status; None: stopped after the time limit; negative: killed by a signal
    stdout: str
    message: str  # the decoder's last line on standard error (or the worker's answer)
    seconds: float


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


class BuiltinDecoder:
    """This suite's decoder: ``icm-dec -i {bitstream} -o {output} [--max-groups K] [--task-network NAME]``, in a
    worker process that loads torch and the models once; after a time-out or a crash the next stream gets a fresh
    worker."""

    description = "built-in: icm-dec -i {bitstream} -o {output} [--max-groups K] [--task-network NAME]"
    exact_status = True  # a must-reject stream must be refused with the manifest's exit status
    writes_output = True

    def __init__(self, log_path: Path):
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.answers: queue.Queue = queue.Queue()

    def missing_command(self, decode: dict) -> str | None:
        return None  # every decode

    def _start(self) -> None:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "icm.ctc_scripts.conformance.worker"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                                        bufsize=1, start_new_session=True)
        log.close()
        self.answers = queue.Queue()
        threading.Thread(target=self._read, args=(self.process.stdout, self.answers), daemon=True).start()

    @staticmethod
    def _read(stream, answers: queue.Queue) -> None:
        for line in stream:
            answers.put(line)
        answers.put(None)

    def run(self, bitstream: Path, output: Path | None, decode: dict, timeout: float) -> Invocation:
        if self.process is None or self.process.poll() is not None:
            self._start()
        start = time.perf_counter()
        request = {"bitstream": str(bitstream), "output": str(output) if output else None, **decode}
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            line = self.answers.get(timeout=timeout)
        except queue.Empty:
            self.close()
            return Invocation(None, "", f"no answer within {timeout:g} s", time.perf_counter() - start)
        except BrokenPipeError:
            line = None
        seconds = time.perf_counter() - start
        if line is None:
            status = self.process.wait()
            self.process = None
            return Invocation(status if status < 0 else 1, "", f"the decoder process died (status {status})",
                              seconds)
        answer = json.loads(line)
        return Invocation(answer["status"], answer["message"], answer["message"], seconds)

    def close(self) -> None:
        if self.process is not None:
            _kill(self.process)
            self.process = None


class CommandDecoder:
    """A decoder program run once per stream: ``template`` for full decodes (``{bitstream}``, and
    ``{output}`` unless the program prints the MD5), ``partial`` (with ``{max_groups}``) for partial decodes,
    ``adapted`` (with ``{task_network}``) for the pictures of a task network's adapter."""

    exact_status = False  # any non-zero exit status refuses a stream

    def __init__(self, template: str, partial: str | None = None, adapted: str | None = None):
        self.template, self.partial, self.adapted = template, partial, adapted
        _check_template(template, "--decoder", required={"bitstream"}, allowed={"bitstream", "output"})
        for option, extra, value in (("--partial-decoder", "max_groups", partial),
                                     ("--adapted-decoder", "task_network", adapted)):
            if value is None:
                continue
            _check_template(value, option, required={"bitstream", extra}, allowed={"bitstream", "output", extra})
            if ("{output}" in value) != ("{output}" in template):
                raise ConfigError(f"--decoder and {option} must both write {{output}} or both print the MD5")
        self.writes_output = "{output}" in template
        self.description = (template + (f" | partial: {partial}" if partial else "")
                            + (f" | adapted: {adapted}" if adapted else ""))

    def _template(self, decode: dict) -> tuple[str | None, str]:
        """The command template for the decoder settings ``decode``, and what it is called."""
        if decode.get("task_network") is not None:
            if decode.get("max_groups") is not None:
                return None, "command for --max-groups with --task-network"
            return self.adapted, "adapted-decode command (--adapted-decoder)"
        if decode.get("max_groups") is not None:
            return self.partial, "partial-decode command (--partial-decoder)"
        return self.template, "decoder command"

    def missing_command(self, decode: dict) -> str | None:
        """None when a command decodes with the settings ``decode``; else what is missing."""
        template, what = self._template(decode)
        return None if template is not None else what

    def check(self) -> None:
        """ResourceError (exit status 7) unless the programs of the templates can be run."""
        for template in filter(None, (self.template, self.partial, self.adapted)):
            program = shlex.split(template)[0]
            found = shutil.which(program) if os.sep not in program else (
                program if os.path.isfile(program) and os.access(program, os.X_OK) else None)
            if found is None:
                raise ResourceError(f"decoder program '{program}' not found or not executable")

    def run(self, bitstream: Path, output: Path | None, decode: dict, timeout: float) -> Invocation:
        template, _ = self._template(decode)
        argv = shlex.split(template.format(bitstream=shlex.quote(str(bitstream)), output=shlex.quote(str(output)),
                                           max_groups=decode.get("max_groups"),
                                           task_network=shlex.quote(str(decode.get("task_network")))))
        start = time.perf_counter()
        try:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
        except OSError as exc:
            raise ResourceError(f"cannot run the decoder program '{argv[0]}': {exc.strerror}") from None
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            process.communicate()
            return Invocation(None, "", f"stopped after {timeout:g} s", time.perf_counter() - start)
        except BaseException:
            _kill(process)
            raise
        return Invocation(process.returncode, stdout, _last_line(stderr), time.perf_counter() - start)

    def close(self) -> None:
        pass


def _check_template(template: str, option: str, required: set[str], allowed: set[str]) -> None:
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
        words = shlex.split(template)
    except ValueError as exc:
        raise ConfigError(f"{option}: cannot read the command '{template}': {exc}") from None
    if not words:
        raise ConfigError(f"{option}: empty command")
    if "{" in words[0]:
        raise ConfigError(f"{option}: the program must be named, not a placeholder: '{words[0]}'")
    unknown, missing = fields - allowed, required - fields
    if unknown:
        raise ConfigError(f"{option}: unknown placeholder(s) {', '.join('{' + n + '}' for n in sorted(unknown))}"
                          f" (allowed: {', '.join('{' + n + '}' for n in sorted(allowed))})")
    if missing:
        raise ConfigError(f"{option}: the command needs {', '.join('{' + n + '}' for n in sorted(missing))}")
