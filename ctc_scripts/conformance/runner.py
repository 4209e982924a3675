"""Runs a decoder on every entry of a conformance suite and judges each result against the manifest.

An entry that decodes passes when the decoder exits with status 0 and the MD5 of its output (output_md5.py)
is the manifest's. A must-reject entry passes when the decoder exits with a non-zero status (this suite's own
decoder: exactly the manifest's status) and was not killed by a signal. A partial-decode entry is skipped
when the decoder has no partial-decode command. A stream file that differs from the manifest's checksum, a
time-out, a crash or an unreadable output fail. An adapted-decode entry (the picture of a task network's adapter) is
skipped when the decoder has no adapted-decode command.
"""
from __future__ import annotations

import fnmatch
import hashlib
from pathlib import Path

from .manifest import decode_settings
from .output_md5 import UnreadableOutput, output_md5, printed_md5

PASS, FAIL, SKIP = "pass", "fail", "skip"
SUFFIXES = {"picture": ".png", "features": ".npz"}


def select(entries: list[dict], patterns: list[str] | None) -> list[dict]:
    """The entries whose name matches one of the shell patterns (all without patterns)."""
    if not patterns:
        return list(entries)
    return [e for e in entries if any(fnmatch.fnmatchcase(e["name"], p) for p in patterns)]


def expected_text(entry: dict) -> str:
    expect = entry["expect"]
    return expect["md5"] if expect["outcome"] == "decode" else f"refused ({expect['exit_status']})"


def run_entry(entry: dict, folder: Path, decoder, timeout: float, workdir: Path) -> dict:
    decode = decode_settings(entry)
    result = {"name": entry["name"], "stream": entry["stream"], **decode,
              "expected": expected_text(entry), "got": "", "result": FAIL, "seconds": 0.0, "message": ""}
    stream = (folder / entry["stream"]).absolute()  # a decoder command may change its folder
    if not stream.is_file() or hashlib.sha256(stream.read_bytes()).hexdigest() != entry["sha256"]:
        result["message"] = "the stream file is missing or differs from the manifest (sha256)"
        return result
    missing = decoder.missing_command(decode)
    if missing:
        result.update(result=SKIP, message=f"no {missing}")
        return result
    kind = entry["expect"]["output"]
    output = workdir / (entry["name"] + SUFFIXES[kind]) if decoder.writes_output else None
    if output is not None and output.exists():
        output.unlink()
    run = decoder.run(stream, output, decode, timeout)
    result["seconds"] = round(run.seconds, 3)
    if run.status is None:
        result.update(got="timeout", message=run.message)
    elif run.status < 0:
        result.update(got=f"signal {-run.status}", message=f"the decoder was killed by signal {-run.status}")
    elif entry["expect"]["outcome"] == "reject":
        _judge_refusal(result, entry, run, decoder.exact_status)
    elif run.status != 0:
        result.update(got=f"exit {run.status}", message=run.message or f"the decoder exited with status {run.status}")
    else:
        _judge_output(result, entry, run, output)
    return result


def _judge_refusal(result: dict, entry: dict, run, exact: bool) -> None:
    wanted = entry["expect"]["exit_status"]
    result["got"] = "decoded" if run.status == 0 else f"refused ({run.status})"
    if run.status == 0:
        result["message"] = "decoded a stream that every decoder must refuse"
    elif exact and run.status != wanted:
        result["message"] = f"refused with exit status {run.status}, not {wanted}: {run.message}"
    else:
        result.update(result=PASS, message=run.message)


def _judge_output(result: dict, entry: dict, run, output: Path | None) -> None:
    expect = entry["expect"]
    try:
        md5 = printed_md5(run.stdout) if output is None else output_md5(output, expect["output"],
                                                                           expect.get("arrays", []))
    except UnreadableOutput as exc:
        result.update(got="no output", message=str(exc))
        return
    result["got"] = md5
    if md5 == expect["md5"]:
        result["result"] = PASS
    else:
        result["message"] = "decoded-output MD5 differs"


def run_suite(manifest: dict, folder: Path, decoder, timeout: float, workdir: Path, patterns=None,
              progress=None) -> list[dict]:
    results = []
    try:
        for entry in select(manifest["entries"], patterns):
            results.append(run_entry(entry, folder, decoder, timeout, workdir))
            if progress is not None:
                progress(results[-1])
    finally:
        decoder.close()
    return results


def counts(results: list[dict]) -> dict[str, int]:
    return {kind: sum(r["result"] == kind for r in results) for kind in (PASS, FAIL, SKIP)}
