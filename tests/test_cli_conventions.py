"""Command-line conventions of icm-enc, icm-dec and icm-ctc: --version, one-line usage errors (exit status 2),
-q for --qp only, rate points and groups checked against the tool registry, output paths that cannot be
written (exit status 3)."""
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest

from icm.common.image_io import write_png
from icm.common.registry import default_registry

BIN = Path(sys.executable).parent
CONFORMANCE = Path(__file__).resolve().parent / "data" / "conformance"
PROGRAMS = ("icm-enc", "icm-dec", "icm-ctc")


def run(program: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / program), *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "ICM_EXTRA_TOOLS": ""})


def one_line_error(result: subprocess.CompletedProcess, program: str, status: int, words: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == status, result.stderr
    assert len(lines) == 1 and lines[0].startswith(f"{program}: error: "), result.stderr
    assert words in lines[0], lines[0]


@pytest.fixture(scope="module")
def small_png(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("conventions") / "small.png"
    write_png(path, np.random.default_rng(3).integers(0, 256, (48, 64, 3), dtype=np.uint8))
    return path


@pytest.mark.parametrize("program", PROGRAMS)
def test_version_names_the_package_and_the_syntax(program):
    result = run(program, "--version")
    version = importlib.metadata.version("icm-codec")
    assert result.returncode == 0 and result.stdout.strip() == f"{program} {version} (ICM bitstream syntax 3.0)"


@pytest.mark.parametrize("program, args, words", [
    ("icm-enc", ["-i", "a.png", "-o", "a.icm", "--tool", "foo"], "'foo' is not one of 'vvc-image', "),
    ("icm-enc", ["-i", "a.png", "-o", "a.icm", "--qp", "abc"], "'abc' is not a valid integer"),
    ("icm-enc", ["-i", "a.png", "-o", "a.icm", "--qp", "64"], "64 is not in the range 0<=x<=63"),
    ("icm-enc", ["-o", "a.icm"], "Missing option '-i' / '--input'"),
    ("icm-enc", ["--frobnicate"], "No such option '--frobnicate'"),
    ("icm-dec", ["-i", "a.icm", "--max-groups", "-1"], "-1 is not in the range x>=0"),
    ("icm-ctc", ["run"], "Missing argument 'CONFIG.yaml'"),
    ("icm-ctc", ["frobnicate"], "No such command 'frobnicate'"),
    ("icm-ctc", ["run", "x.yaml", "--jobs", "0"], "0 is not in the range 1<=x<=256"),
])
def test_usage_errors_are_one_line(program, args, words):
    one_line_error(run(program, *args), program, 2, words)


def test_q_stands_for_qp_only():
    from icm.ctc_scripts.ctc.cli import main as ctc
    from icm.decoder.app import main as dec
    from icm.encoder.app import main as enc

    commands = [enc, dec, *ctc.commands.values(), ctc]
    owners = [param.name for command in commands
              for param in command.get_params(click.Context(command)) if "-q" in param.opts]
    assert owners == ["qp"]


def test_rate_points_come_from_the_registry(small_png, tmp_path):
    mfc = default_registry().get("mfc")
    offered = mfc.rate_values("mfc")
    out = str(tmp_path / "x.icm")
    one_line_error(run("icm-enc", "-i", str(small_png), "-o", out, "--tool", "mfc", "--quality", str(max(offered) + 1)),
                   "icm-enc", 2, f"{max(offered) + 1} is not in the range {min(offered)}<=x<={max(offered)}")
    noxs = mfc.rate_values("noxs")
    if min(noxs) > min(offered):
        one_line_error(run("icm-enc", "-i", "missing.png", "-o", out, "--tool", "mfc", "--model", "noxs",
                           "--quality", str(min(offered))),
                       "icm-enc", 2, f"mfc model noxs has no quality {min(offered)}")
    one_line_error(run("icm-enc", "-i", "missing.png", "-o", out, "--tool", "mfc", "--qp", "30"),
                   "icm-enc", 2, "--qp is an option of vvc-image, vvc-feature, npp-vvc, not of mfc")
    one_line_error(run("icm-enc", "-i", "missing.png", "-o", out, "--refine-steps", "3"),
                   "icm-enc", 2, "--refine-steps is an option of mfc, ci-icm, not of vvc-image")
    help_text = " ".join(run("icm-enc", "--help").stdout.split())
    assert f"(mfc: {min(offered)}..{max(offered)}" in help_text and "[default: 3;" in help_text


def test_max_groups_only_for_tools_with_groups():
    result = run("icm-dec", "-i", str(CONFORMANCE / "vvc_image_qp32_128x96.icm"), "--max-groups", "0")
    one_line_error(result, "icm-dec", 2, "vvc-image streams have no channel groups")


def test_output_paths_that_cannot_be_written_exit_3(small_png, tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("")
    folder, under_file = str(tmp_path / "folder"), str(tmp_path / "file" / "x")
    encode = ["-i", str(small_png), "--tool", "vvc-image", "--qp", "51", "--preset", "faster"]
    one_line_error(run("icm-enc", *encode, "-o", folder), "icm-enc", 3, f"cannot write {folder}")
    one_line_error(run("icm-enc", *encode, "-o", under_file + ".icm"), "icm-enc", 3, "cannot make its folder")
    one_line_error(run("icm-enc", *encode, "-o", str(tmp_path / "a.icm"), "--trace", folder), "icm-enc", 3,
                   "cannot write the trace")
    if os.path.isdir("/sys") and not os.access("/sys", os.W_OK):  # a folder nobody may write into
        one_line_error(run("icm-enc", *encode, "-o", "/sys/icm-test.icm"), "icm-enc", 3, "cannot write")
    features = str(CONFORMANCE / "vvc_feature_qp37.icm")
    one_line_error(run("icm-dec", "-i", features, "-o", under_file + ".npz"), "icm-dec", 3, "cannot make its folder")
    one_line_error(run("icm-dec", "-i", features, "-o", folder + "/"), "icm-dec", 2, "written as .npz")
    os.mkdir(tmp_path / "folder.npz")
    one_line_error(run("icm-dec", "-i", features, "-o", str(tmp_path / "folder.npz")), "icm-dec", 3, "cannot write")
    one_line_error(run("icm-dec", "-i", features, "--trace", folder), "icm-dec", 3, "cannot write the trace")


def test_detections_path_that_cannot_be_written_exits_3(shared, tmp_path):
    (tmp_path / "file").write_text("")
    result = run("icm-dec", "-i", str(CONFORMANCE / "vvc_feature_qp37.icm"), "--detections",
                 str(tmp_path / "file" / "d.json"))
    one_line_error(result, "icm-dec", 3, "cannot make its folder")
