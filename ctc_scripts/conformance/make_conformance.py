"""Writes the conformance suite of ``tests/data/conformance/``: its streams, ``manifest.json`` and README table.

    python -m icm.ctc_scripts.conformance.make_conformance                    # needs the shared data (../shared)
    python -m icm.ctc_scripts.conformance.make_conformance --check            # compare, write nothing
    python -m icm.ctc_scripts.conformance.make_conformance --rewrite-learned  # re-encode the learned streams too

The suite's entries are declared in ``suite.py``. Streams made by the encoder are encoded again (the VVC ones
give the same bytes with the same VVenC); streams whose encoder runs a float network (``learned``) are kept
from the folder unless ``--rewrite-learned``; streams written through the syntax declaration are rebuilt from
their source stream. Every entry is checked with this decoder before anything is written. Run it when the
syntax, a shipped model or the suite changes, and commit the result.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ...common.fileio import write_bytes_atomically
from ...common.syntax import structures as S
from . import coverage, manifest as M
from .build import Made, SuiteError, make
from .suite import PENDING_TOOLS, DecodeEntry, entries


def manifest_of(made: list[Made]) -> dict:
    return {"format": M.FORMAT, "syntax_version": f"{S.SYNTAX_VERSION_MAJOR}.{S.SYNTAX_VERSION_MINOR}",
            "generator": "python -m icm.ctc_scripts.conformance.make_conformance",
            "hash": "MD5 of the decoded output (docs/decoding.md D.7)",
            "pending_tools": list(PENDING_TOOLS), "entries": [m.record for m in made]}


def coverage_rows(streams: list[tuple[str, bytes]]) -> list[str]:
    """The README's coverage table: each enumerated value and flag with the first stream that holds it."""
    first = coverage.first_streams(streams)
    rows = []
    for element, values in first.items():
        cells = [f"{value}: {name if name else '(none)'}" for value, name in values.items()]
        rows.append(f"| `{element}` | {'; '.join(cells)} |")
    return rows


def files_of(made: list[Made]) -> dict[str, bytes]:
    files = {m.record["stream"]: m.data for m in made if not isinstance(m.entry, DecodeEntry)}
    files[M.MANIFEST] = M.dumps(manifest_of(made)).encode()
    streams = [(m.entry.name, m.data) for m in made if not isinstance(m.entry, DecodeEntry)]
    files["README.md"] = M.readme(manifest_of(made), coverage_rows(streams)).encode()
    return files


def differences(folder: Path, files: dict[str, bytes]) -> list[str]:
    found = [name for name, data in files.items()
             if not (folder / name).is_file() or (folder / name).read_bytes() != data]
    found += [f"{path.name} (not in the suite)" for path in sorted(folder.glob("*.icm")) if path.name not in files]
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", default=str(M.FOLDER), help="the suite's folder (default: %(default)s)")
    parser.add_argument("--rewrite-learned", action="store_true",
                        help="re-encode the streams whose encoder runs a float network (and those written from them)")
    parser.add_argument("--check", action="store_true",
                        help="make everything in memory and list the files that would change; write nothing")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    try:
        made = make(entries(), folder, rewrite_learned=args.rewrite_learned)
    except SuiteError as exc:
        raise SystemExit(f"make_conformance: {exc}") from None
    files = files_of(made)
    changed = differences(folder, files)
    if args.check:
        print("up to date" if not changed else "would change: " + ", ".join(changed))
        return 1 if changed else 0
    for name, data in files.items():
        if name in changed:
            write_bytes_atomically(folder / name, data)
            print(f"wrote {folder / name}")
    for path in sorted(folder.glob("*.icm")):
        if path.name not in files:
            path.unlink()
            print(f"removed {path} (not in the suite)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
