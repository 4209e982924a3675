"""The pass/fail table of an ``icm-conform`` run, as markdown and as JSON."""
from __future__ import annotations

import json
from pathlib import Path

from .runner import counts

FORMAT = "icm-conform-report-1"


def summary_line(results: list[dict]) -> str:
    n = counts(results)
    return (f"{n['pass']} passed, {n['fail']} failed, {n['skip']} skipped of {len(results)}: "
            + ("CONFORMS" if n["fail"] == 0 and results else "DOES NOT CONFORM"))


def entry_label(result: dict) -> str:
    """The entry's name with its decoder options, e.g. ``mfc_q3_groups2 (--max-groups 2)``."""
    from .manifest import decoder_options

    options = decoder_options(result)
    return result["name"] + (f" ({options})" if options else "")


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(results: list[dict], suite: str, decoder: str) -> str:
    lines = ["# Conformance report", "", f"- suite: `{suite}`", f"- decoder: `{decoder}`",
             f"- {summary_line(results)}", "",
             "| entry | result | expected | got | seconds | note |", "| --- | --- | --- | --- | --- | --- |"]
    for r in results:
        name = entry_label(r)
        mark = {"pass": "pass", "fail": "**FAIL**", "skip": "skip"}[r["result"]]
        lines.append(f"| {_cell(name)} | {mark} | {_cell(r['expected'])} | {_cell(r['got'])} | "
                     f"{r['seconds']:.2f} | {_cell(r['message'])} |")
    return "\n".join(lines) + "\n"


def as_json(results: list[dict], suite: str, decoder: str) -> str:
    return json.dumps({"format": FORMAT, "suite": suite, "decoder": decoder, **counts(results),
                       "conforms": counts(results)["fail"] == 0 and bool(results), "results": results},
                      indent=1) + "\n"


def report_paths(target: str | Path) -> tuple[Path, Path]:
    """``PATH`` -> (PATH.md, PATH.json); a given ``.md`` or ``.json`` suffix is replaced."""
    path = Path(target)
    stem = path.with_suffix("") if path.suffix in (".md", ".json") else path
    return stem.with_name(stem.name + ".md"), stem.with_name(stem.name + ".json")


def write_reports(target: str | Path, results: list[dict], suite: str, decoder: str) -> tuple[Path, Path]:
    from ...common.fileio import write_bytes_atomically

    md_path, json_path = report_paths(target)
    for path, text in ((md_path, markdown(results, suite, decoder)), (json_path, as_json(results, suite, decoder))):
        write_bytes_atomically(path, text.encode())  # OutputError (exit status 3) when it cannot be written
    return md_path, json_path
