"""The coverage-guided fuzz target of the bitstream parser (ctc_scripts/conformance/fuzz_atheris.py, atheris and
libFuzzer) runs a few thousand executions on the conformance streams without a finding, in under a minute. The
long runs of every target are in docs/results.md ("Coverage-guided fuzzing (atheris)")."""
import subprocess
import sys
import time

import pytest

pytest.importorskip("atheris")

RUNS = 3000


def test_parser_target_runs_without_a_finding(tmp_path):
    findings = tmp_path / "findings"
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "icm.ctc_scripts.conformance.fuzz_atheris", "--tool", "parser",
                             "--runs", str(RUNS), "--max-time", "55", "--artifacts", str(findings), "--", "-seed=1"],
                            capture_output=True, text=True, timeout=120)
    seconds = time.monotonic() - start
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stderr[-3000:] + summary
    assert summary.startswith(f"fuzz_atheris parser: {RUNS} executions in ") and summary.endswith(", 0 findings")
    assert list(findings.iterdir()) == []
    assert seconds < 60, f"{seconds:.0f} s"
