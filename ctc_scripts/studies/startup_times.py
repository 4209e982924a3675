"""Start-up times of the executables: ``--help`` of icm-enc, icm-dec and icm-ctc, for this checkout and another.

    python -m icm.ctc_scripts.studies.startup_times --before /tmp/before --runs 7

``--before`` is a checkout of another revision (e.g. ``git worktree add /tmp/before <commit>``): its folders are
put under a temporary ``icm`` package on ``PYTHONPATH``, and its executables' modules are read from its
``setup.py``. Both are timed in the same way, in one run, interleaved (a fresh interpreter that imports the
executable's module and runs ``main`` with ``--help``); the table gives the median wall time of each and
whether torch was imported.
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
RUN = ("import sys\nfrom {module} import main\nsys.argv[0] = {program!r}\ntry:\n    main(['--help'])\n"
       "except SystemExit:\n    pass\nprint('TORCH', 'torch' in sys.modules, file=sys.stderr)\n")


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


def time_once(module: str, program: str, path: str | None) -> tuple[float, bool]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if path:
        env["PYTHONPATH"] = path
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", RUN.format(module=module, program=program)], env=env,
                            capture_output=True, text=True, cwd=tempfile.gettempdir())
    seconds = time.perf_counter() - start
    if "TORCH" not in result.stderr:
        raise SystemExit(f"{program} ({module}) failed: {result.stderr.strip()[-300:]}")
    return seconds, "TORCH True" in result.stderr


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="checkout of the other revision")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    before = Path(args.before).resolve()
    with tempfile.TemporaryDirectory() as folder:
        path = str(package_of(before, Path(folder)))
        sides = {"before": (entry_modules(before), path), "after": (entry_modules(REPO), None)}
        times = {(side, p): [] for side in sides for p in PROGRAMS}
        torch = {}
        for _ in range(args.runs):
            for program in PROGRAMS:
                for side, (modules, pythonpath) in sides.items():
                    seconds, imported = time_once(modules[program], program, pythonpath)
                    times[(side, program)].append(seconds)
                    torch[(side, program)] = imported
    print(f"median of {args.runs} runs, python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print("| command | before | after |")
    print("| --- | --- | --- |")
    for program in PROGRAMS:
        cells = [f"{statistics.median(times[(side, program)]):.2f} s"
                 f"{' (torch)' if torch[(side, program)] else ''}" for side in sides]
        print(f"| `{program} --help` | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
