"""Coverage-guided fuzzing of the bitstream parser and the decoders with atheris (libFuzzer).

    python -m icm.ctc_scripts.conformance.fuzz_atheris --tool TOOL --runs N [--max-time S] [--corpus DIR]
                                                        [--artifacts DIR] [--mutator units|bytes] [-- FLAGS]

TOOL: ``parser`` (``icm.common.bitstream.parse`` alone), or ``vvc-image``, ``vvc-feature``, ``mfc``
(``icm.decoder.pipeline.decode_bytes``, torch on one thread). The seeds are the tool's conformance streams
(``tests/data/conformance/manifest.json``; all of them for the parser); the corpus libFuzzer grows goes to
``--corpus`` (default: a temporary folder). Coverage is that of the ``icm`` modules (``atheris.instrument_imports``).
Mutations: libFuzzer's, and (``--mutator units``, the default) for half of them libFuzzer's mutation of one unit's
body with the framing kept (:func:`unit_mutator`). FLAGS are passed to libFuzzer (e.g. ``-seed=1``).

The contract: every input decodes, or is refused with an ``IcmError`` of a bitstream exit status (4 to 7) and a
one-line message, within a bound of processor time (:data:`BOUND_S`). Anything else is a finding, counted once
per kind (exception class and the line that raised it, or slowness): its first input is written to ``--artifacts``
(``finding-<sha1>``, and a ``.txt`` with what happened and the traceback), one line is printed and the fuzzing
goes on. An input that hangs past ``-timeout`` (wall time; libFuzzer ends the run and writes ``timeout-<sha1>``)
is a finding too. libFuzzer ends its process without returning to Python, so the fuzzing runs in a child
process; this one relays libFuzzer's output and prints the outcomes (counted every 1,000 executions) and the
summary line, with libFuzzer's last coverage numbers, e.g.

    fuzz_atheris parser: outcomes of the first 92000 BitstreamError=61319 LevelLimitError=28974 parsed=1707
    fuzz_atheris parser: 92594 executions in 905 s, cov 263 ft 1178 corpus 120, 0 findings

Exit status: 0, 1 on a finding, 2 a bad command line, 3 a folder that cannot be written, 7 no atheris, 130
interrupted.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

CONFORMANCE = Path(__file__).resolve().parents[2] / "tests" / "data" / "conformance"
TOOLS = ("parser", "vvc-image", "vvc-feature", "mfc")
BITSTREAM_STATUSES = {4, 5, 6, 7}  # refused, beyond the level limits, hash mismatch, no model of that hash
BOUND_S = {"parser": 2.0, "vvc-image": 10.0, "vvc-feature": 10.0, "mfc": 10.0}  # processor time per input
HANG_S = 120  # libFuzzer's -timeout: wall time, for inputs that wait instead of computing
LIBFUZZER_INTERRUPTED = 72  # libFuzzer's -interrupted_exitcode
TALLY_EVERY = 1000  # the child prints its count of outcomes every so many executions
STATS = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)")


def seeds(tool: str, folder: Path) -> None:
    """Copy the tool's conformance streams into ``folder``."""
    entries = json.loads((CONFORMANCE / "manifest.json").read_text())["entries"]
    streams = {e["stream"] for e in entries if tool == "parser" or e["tool"] == tool}
    for name in streams:
        shutil.copy(CONFORMANCE / name, folder / name)


def warm_up_streams() -> list[Path]:
    """The smallest conformance stream of each tool that decodes."""
    smallest: dict = {}
    for entry in json.loads((CONFORMANCE / "manifest.json").read_text())["entries"]:
        if entry["expect"]["outcome"] == "decode" and entry["bytes"] < smallest.get(entry["tool"], (1 << 60, ""))[0]:
            smallest[entry["tool"]] = (entry["bytes"], entry["stream"])
    return [CONFORMANCE / name for _, name in smallest.values()]


# --- the child: the fuzz target under libFuzzer ----------------------------------------------------------------------

def processor_seconds() -> float:
    """This process's processor time and that of its ended children (ffmpeg)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def make_target(tool: str, artifacts: Path):
    """The function libFuzzer calls for each input: the instrumented parse or decode of ``tool``."""
    import atheris

    with atheris.instrument_imports(include=["icm"]):
        from icm.common.bitstream import parse
        from icm.common.config import DecoderConfig
        from icm.common.errors import IcmError
        from icm.common.registry import ToolInstances
        from icm.common.syntax import structures as S
        from icm.decoder.pipeline import decode_bytes

        if tool == "parser":
            decode = parse
        else:
            import torch

            torch.set_num_threads(1)  # same output on any thread count, faster on a busy machine
            tools, config = ToolInstances(), DecoderConfig()
            decode = lambda data: decode_bytes(data, config, tools=tools)  # noqa: E731
            for tool_id in S.TOOLS:  # import (so instrument) every decoder, load the models
                try:
                    tools.decoder(tool_id)
                except IcmError:
                    pass
            for path in warm_up_streams():
                try:
                    decode(path.read_bytes())
                except IcmError:  # a stream of another syntax version: the decoders are imported all the same
                    pass
    kinds: set = set()

    def finding(data: bytes, what: str, exc: BaseException | None) -> None:
        place = traceback.extract_tb(exc.__traceback__)[-1] if exc is not None else None
        kind = (type(exc).__name__, place.filename, place.lineno) if place else (what.split(":")[0],)
        where = f" at {Path(place.filename).name}:{place.lineno}" if place else ""
        line = f"{what}{where}"
        if kind not in kinds:  # the first input of each kind of finding
            kinds.add(kind)
            print(f"finding: {line}", flush=True)
            path = artifacts / f"finding-{hashlib.sha1(data).hexdigest()}"
            path.write_bytes(data)
            tb = "".join(traceback.format_exception(exc)) if exc is not None else ""
            path.with_suffix(".txt").write_text(f"{line}\n{tb}")

    outcomes: Counter = Counter()

    def test_one_input(data: bytes) -> None:
        start, outcome = processor_seconds(), "parsed" if tool == "parser" else "decoded"
        try:
            decode(data)
        except IcmError as exc:
            outcome, message = type(exc).__name__, str(exc)
            if exc.exit_code not in BITSTREAM_STATUSES or not message or "\n" in message:
                finding(data, f"exit status {exc.exit_code}: {message!r}", exc)
        except Exception as exc:  # anything else is a bug of the decoder
            outcome = "finding"
            finding(data, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", exc)
        seconds = processor_seconds() - start
        if seconds > BOUND_S[tool]:
            finding(data, f"slow: {seconds:.1f} s of processor time, bound {BOUND_S[tool]} s", None)
        outcomes[outcome] += 1
        if outcomes.total() % TALLY_EVERY == 0:
            print(f"outcomes: {outcomes.total()} " + " ".join(f"{k}={v}" for k, v in outcomes.most_common()),
                  flush=True)

    return test_one_input


def unit_mutator(read_raw, write_raw, IcmError):
    """libFuzzer's mutation of one unit's body, the stream framed again (true unit sizes), for half of the
    mutations of a stream whose framing is sound: most byte mutations of a whole stream break its framing and
    are refused by the parser before the checks and the decoders behind it."""
    import atheris

    def mutate(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if rng.random() < 0.5:
            try:
                header, units = read_raw(data)
                index = rng.randrange(len(units))
                unit_type, body = units[index]
                units[index] = (unit_type, atheris.Mutate(body, len(body) + 64))
                mutated = write_raw(header, units)
                if len(mutated) <= max_size:
                    return mutated
            except (IcmError, ValueError):  # framing not sound (a byte mutation), or no unit
                pass
        return atheris.Mutate(data, max_size)

    return mutate


def child(tool: str, artifacts: str, mutator: str, libfuzzer_args: list[str]) -> None:
    import atheris

    test_one_input = make_target(tool, Path(artifacts))
    custom = None
    if mutator == "units":
        from icm.common.errors import IcmError
        from icm.ctc_scripts.conformance.units import read_raw, write_raw

        custom = unit_mutator(read_raw, write_raw, IcmError)
    atheris.Setup([sys.argv[0], *libfuzzer_args], test_one_input, custom_mutator=custom)
    atheris.Fuzz()


# --- the parent: starts the child, relays its output, sums up ---------------------------------------------------------

def fuzz(args: argparse.Namespace, corpus: Path) -> int:
    corpus.mkdir(parents=True, exist_ok=True)
    args.artifacts.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="icm-fuzz-seeds-") as seed_folder:
        seeds(args.tool, Path(seed_folder))
        flags = [f"-runs={args.runs}", f"-max_total_time={args.max_time}", f"-timeout={HANG_S}",
                 "-rss_limit_mb=4096", f"-artifact_prefix={args.artifacts}/", "-print_final_stats=1",
                 *args.libfuzzer, str(corpus), seed_folder]
        command = [sys.executable, "-m", __spec__.name, "--child", args.tool, str(args.artifacts), args.mutator,
                   *flags]
        start, stats, executions, outcomes, findings = time.monotonic(), ("?", "?", "?"), "?", "", 0
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              errors="replace") as process:
            for line in process.stdout:
                if line.startswith("outcomes: "):
                    outcomes = line.strip()
                    continue
                sys.stderr.write(line)
                if match := STATS.match(line):
                    executions, stats = match[1], match.group(2, 3, 4)
                elif line.startswith("stat::number_of_executed_units:"):
                    executions = line.split(":")[-1].strip()
                findings += line.startswith("finding: ")
        if process.returncode == LIBFUZZER_INTERRUPTED:
            print(f"fuzz_atheris {args.tool}: interrupted", file=sys.stderr)
            return 130
        findings += process.returncode != 0  # a hang, a crash or a memory limit of the child itself
    if outcomes:
        print(f"fuzz_atheris {args.tool}: {outcomes.replace(':', ' of the first', 1)}")
    print(f"fuzz_atheris {args.tool}: {executions} executions in {time.monotonic() - start:.0f} s, cov {stats[0]} "
          f"ft {stats[1]} corpus {stats[2]}, {findings} findings", flush=True)
    return 1 if findings else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child(argv[1], argv[2], argv[3], argv[4:])
        return 0
    parser = argparse.ArgumentParser(prog="python -m icm.ctc_scripts.conformance.fuzz_atheris",
                                     description="Coverage-guided fuzzing of the parser and the decoders.")
    parser.add_argument("--tool", choices=TOOLS, required=True)
    parser.add_argument("--runs", type=int, default=10000, help="executions (libFuzzer's -runs)")
    parser.add_argument("--max-time", type=int, default=0, help="seconds at most (libFuzzer's -max_total_time)")
    parser.add_argument("--corpus", type=Path, help="folder of the grown corpus (default: a temporary one)")
    parser.add_argument("--artifacts", type=Path, default=Path("out/fuzz"), help="folder of the findings")
    parser.add_argument("--mutator", choices=("units", "bytes"), default="units",
                        help="units: half of the mutations within one unit, framing kept (default); bytes: "
                             "libFuzzer's alone")
    parser.add_argument("libfuzzer", nargs="*", help="libFuzzer flags, after --")
    args = parser.parse_args(argv)
    args.artifacts = args.artifacts.resolve()
    if importlib.util.find_spec("atheris") is None:
        print("fuzz_atheris: error: atheris is not installed (pip install atheris==3.0.0)", file=sys.stderr)
        return 7
    try:
        with tempfile.TemporaryDirectory(prefix="icm-fuzz-corpus-") as corpus:
            return fuzz(args, (args.corpus or Path(corpus)).resolve())
    except OSError as exc:
        print(f"fuzz_atheris: error: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("fuzz_atheris: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
