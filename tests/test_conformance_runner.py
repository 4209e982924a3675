"""icm-conform: this suite's decoder conforms; a decoder command that changes one sample or one byte of its output
fails with a clear table; a missing decoder program, a hanging decoder and bad command lines are reported as
documented (docs/conformance.md)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from icm.ctc_scripts.conformance import manifest as M

BIN = Path(sys.executable).parent
SUITE = str(M.FOLDER)
ENTRIES = M.load(M.FOLDER)["entries"]
SMALL = ["--only", "vvc_image_1x1", "--only", "vvc_image_33x17*", "--only", "reject_vvc_image_chroma_422"]


def conform(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "icm-conform"), *args], capture_output=True, text=True, timeout=timeout)


def wrapper(tmp_path: Path, body: str) -> str:
    """An executable Python script: icm-dec on argv[1] into argv[2], then ``body``."""
    script = tmp_path / "decoder.py"
    script.write_text(f"#!{sys.executable}\nimport subprocess, sys\n"
                      f"status = subprocess.run([{str(BIN / 'icm-dec')!r}, '-i', sys.argv[1], '-o', sys.argv[2]]"
                      f").returncode\nif status:\n    sys.exit(status)\nout = sys.argv[2]\n{body}\n")
    script.chmod(0o755)
    return str(script)


CHANGE_ONE_SAMPLE = """
import numpy as np
if out.endswith('.png'):
    from PIL import Image
    rgb = np.array(Image.open(out))
    rgb[0, 0, 0] ^= 1
    Image.fromarray(rgb).save(out)
else:
    arrays = dict(np.load(out))
    arrays['tensor0'].view(np.uint8)[0] ^= 1
    np.savez(out, **arrays)
"""
FLIP_ONE_FILE_BYTE = """
data = bytearray(open(out, 'rb').read())
data[len(data) // 2] ^= 0xFF
open(out, 'wb').write(data)
"""


def test_this_decoder_passes_the_whole_suite(tmp_path):
    result = conform(SUITE, "--report", str(tmp_path / "report"))
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["conforms"] and report["pass"] == len(ENTRIES) and report["fail"] == report["skip"] == 0
    assert f"{len(ENTRIES)} passed, 0 failed, 0 skipped of {len(ENTRIES)}: CONFORMS" in result.stdout
    assert "| mfc_q3_groups2 (--max-groups 2) | pass |" in (tmp_path / "report.md").read_text()


def test_a_decoder_command_with_printed_md5_passes_and_skips_partial_decodes():
    result = conform(SUITE, "--decoder", f"{BIN / 'icm-dec'} -i {{bitstream}}", *SMALL, "--only", "mfc_q3_groups0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed, 0 failed, 1 skipped of 4: CONFORMS" in result.stdout
    assert "| mfc_q3_groups0 (--max-groups 0) | skip |" in result.stdout


def test_a_decoder_that_changes_one_sample_fails_with_a_clear_table(tmp_path):
    decoder = wrapper(tmp_path, CHANGE_ONE_SAMPLE)
    result = conform(SUITE, "--decoder", f"{decoder} {{bitstream}} {{output}}", *SMALL,
                     "--only", "vvc_feature_yf11_160_qp42", "--report", str(tmp_path / "bad"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed, 3 failed, 0 skipped of 4: DOES NOT CONFORM" in result.stdout
    expected = next(e["expect"]["md5"] for e in ENTRIES if e["name"] == "vvc_image_1x1")
    row = next(line for line in result.stdout.splitlines() if line.startswith("| vvc_image_1x1 |"))
    assert f"| **FAIL** | {expected} |" in row and "decoded-output MD5 differs" in row
    assert "| reject_vvc_image_chroma_422 | pass | refused (4) | refused (4) |" in result.stdout
    report = json.loads((tmp_path / "bad.json").read_text())
    assert not report["conforms"] and report["fail"] == 3
    assert {r["name"] for r in report["results"] if r["result"] == "fail"} == {
        "vvc_image_1x1", "vvc_image_33x17_bt601_full", "vvc_feature_yf11_160_qp42"}


def test_a_decoder_that_corrupts_one_byte_of_its_file_fails(tmp_path):
    decoder = wrapper(tmp_path, FLIP_ONE_FILE_BYTE)
    result = conform(SUITE, "--decoder", f"{decoder} {{bitstream}} {{output}}", "--only", "vvc_image_1x1",
                     "--only", "vvc_feature_yf11_160_qp42")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "0 passed, 2 failed, 0 skipped of 2: DOES NOT CONFORM" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith(("| vvc_image_1x1 |", "| vvc_feature"))]
    assert len(rows) == 2 and all("| **FAIL** |" in row and "| no output |" in row for row in rows), rows
    assert "PNG chunk" in rows[0] and "unreadable .npz" in rows[1], rows


def test_a_missing_decoder_program_is_a_one_line_error():
    result = conform(SUITE, "--decoder", "no-such-decoder-program {bitstream} {output}")
    assert result.returncode == 7
    assert result.stderr.strip() == ("icm-conform: error: decoder program 'no-such-decoder-program' not found or "
                                     "not executable")


def test_a_hanging_decoder_is_stopped_at_the_time_limit(tmp_path):
    script = tmp_path / "hang.py"
    script.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    script.chmod(0o755)
    result = conform(SUITE, "--decoder", f"{script} {{bitstream}} {{output}}", "--only", "vvc_image_1x1",
                     "--timeout", "1", timeout=30)
    assert result.returncode == 1
    assert "| vvc_image_1x1 | **FAIL** |" in result.stdout and "stopped after 1 s" in result.stdout


@pytest.mark.parametrize("args, status, words", [
    (["--only", "no-such-entry"], 2, "--only: no entry of"),
    (["--decoder", "dec {bitstream} {frame}"], 2, "unknown placeholder(s) {frame}"),
    (["--decoder", "dec {output}"], 2, "the command needs {bitstream}"),
    (["--partial-decoder", "dec {bitstream} {max_groups}"], 2, "--partial-decoder needs --decoder"),
    (["--timeout", "0"], 2, "0 is not in the range x>0"),
])
def test_usage_errors_are_one_line(args, status, words):
    result = conform(SUITE, *args)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == status and len(lines) == 1 and lines[0].startswith("icm-conform: error: ")
    assert words in lines[0], lines[0]


def test_a_folder_without_manifest_exits_3(tmp_path):
    result = conform(str(tmp_path))
    assert result.returncode == 3 and "no conformance manifest" in result.stderr


def test_help_imports_neither_torch_nor_numpy():
    probe = ("import sys\nfrom icm.ctc_scripts.conformance.cli import main\ntry:\n    main(['--help'])\n"
             "except SystemExit as exit:\n"
             "    print('PROBE', exit.code, 'torch' in sys.modules, 'numpy' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "ICM_EXTRA_TOOLS": ""})
    assert result.stdout.strip().splitlines()[-1] == "PROBE 0 False False"
