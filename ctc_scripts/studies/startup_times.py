"""Start-up times of the executables (``--help`` of icm-enc, icm-dec, icm-ctc; a small picture stream decoded).

    python -m icm.ctc_scripts.studies.startup_times --before /tmp/before [--after /tmp/after] --runs 7

``--before`` (and ``--after``, default: this checkout as installed) is a checkout of another revision (e.g.
``git worktree add /tmp/before <commit>``): its folders are put under a temporary ``icm`` package on
``PYTHONPATH``, and its executables' modules are read from its ``setup.py``. Both are timed in the same way,
in one run, interleaved (a fresh interpreter that imports the executable's module and runs ``main`` with the
arguments); the table gives the median wall time of each and whether torch was imported.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FOLDERS = ("common", "encoder", "decoder", "anchors", "ctc_scripts", "cfg")
PROGRAMS = ("icm-enc", "icm-dec", "icm-ctc")
PICTURE_STREAM = REPO / "tests" / "data" / "conformance" / "vvc_image_qp32_128x96.icm"
# what is timed: (row label, executable, its arguments)
COMMANDS = [(f"`{p} --help`", p, ["--help"]) for p in PROGRAMS] + [
    ("`icm-dec` of a 128x96 `vvc-image` stream to PNG", "icm-dec",
     ["-i", str(PICTURE_STREAM), "-o", os.path.join(tempfile.gettempdir(), "icm_startup.png")])]
RUN = ("import sys\nfrom {module} import main\nsys.argv[0] = {program!r}\ntry:\n    main({args!r})\n"
       "except SystemExit as exit:\n    assert not exit.code, exit.code\n"
       "print('TORCH', 'torch' in sys.modules, file=sys.stderr)\n")


def entry_modules(checkout: Path) -> dict[str, str]:
    """The module of each executable, from the checkout's setup.py (``icm-enc=icm.encoder.app:main``)."""
    text = (checkout / "setup.py").read_text()
    return {program: re.search(rf'"{program}=([\w.]+):main"', text).group(1) for program in PROGRAMS}


def package_of(checkout: Path, folder: Path) -> Path:
    """A folder holding an ``icm`` package whose sub-packages are the checkout's folders."""
    package = folder / "icm"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""icm of another checkout."""\n')
    for name in FOLDERS:
        if (checkout / name).is_dir():
            (package / name).symlink_to(checkout / name)
    return folder


def time_once(module: str, program: str, args: list[str], path: str | None) -> tuple[float, bool]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if path:
        env["PYTHONPATH"] = path
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", RUN.format(module=module, program=program, args=args)], env=env,
                            capture_output=True, text=True, cwd=tempfile.gettempdir())
    seconds = time.perf_counter() - start
    if "TORCH" not in result.stderr:
        raise SystemExit(f"{program} ({module}) failed: {result.stderr.strip()[-300:]}")
    return seconds, "TORCH True" in result.stderr


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="checkout of the earlier revision")
    parser.add_argument("--after", default=None, help="checkout of the later revision [this one, as installed]")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    before = Path(args.before).resolve()
    after = Path(args.after).resolve() if args.after else None
    with tempfile.TemporaryDirectory() as folder:
        path = str(package_of(before, Path(folder) / "before"))
        sides = {"before": (entry_modules(before), path),
                 "after": ((entry_modules(after), str(package_of(after, Path(folder) / "after"))) if after
                           else (entry_modules(REPO), None))}
        times = {(side, label): [] for side in sides for label, _, _ in COMMANDS}
        torch = {}
        for _ in range(args.runs):
            for label, program, arguments in COMMANDS:
                for side, (modules, pythonpath) in sides.items():
                    seconds, imported = time_once(modules[program], program, arguments, pythonpath)
                    times[(side, label)].append(seconds)
                    torch[(side, label)] = imported
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"median of {args.runs} runs, python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {load:.1f}")
    print("| command | before | after |")
    print("| --- | --- | --- |")
    for label, _, _ in COMMANDS:
        cells = [f"{statistics.median(times[(side, label)]):.2f} s"
                 f"{' (torch)' if torch[(side, label)] else ''}" for side in sides]
        print(f"| {label} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
