"""Fast start: the three executables' --help imports neither torch nor any coding tool, and decoding a
vvc-image stream to PNG does not import torch (checked on ``sys.modules`` in a fresh interpreter)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

CONFORMANCE = Path(__file__).resolve().parent / "data" / "conformance"
PROBE = """
import json, sys
from {module} import main
try:
    main({args!r})
except SystemExit as exit:
    status = exit.code
from icm.common.registry import default_registry
tools = {{path.partition(":")[0] for e in default_registry().entries() for path in (e.encoder, e.decoder)}}
print("PROBE " + json.dumps({{"status": status, "torch": "torch" in sys.modules,
                              "tools": sorted(m for m in tools if m in sys.modules)}}))
"""


def probe(module: str, *args: str) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE.format(module=module, args=list(args))],
                            capture_output=True, text=True, timeout=120)
    line = [line for line in result.stdout.splitlines() if line.startswith("PROBE ")]
    assert line, result.stderr
    return json.loads(line[-1][len("PROBE "):])


@pytest.mark.parametrize("module, args", [
    ("icm.encoder.app", ["--help"]),
    ("icm.decoder.app", ["--help"]),
    ("icm.ctc_scripts.ctc.cli", ["--help"]),
    ("icm.ctc_scripts.ctc.cli", ["run", "--help"]),
    ("icm.encoder.app", ["--version"]),
])
def test_help_imports_neither_torch_nor_a_tool(module, args):
    assert probe(module, *args) == {"status": 0, "torch": False, "tools": []}


def test_decoding_a_picture_stream_to_png_does_not_import_torch(tmp_path):
    stream = CONFORMANCE / "vvc_image_qp32_128x96.icm"
    found = probe("icm.decoder.app", "-i", str(stream), "-o", str(tmp_path / "out.png"))
    assert found == {"status": 0, "torch": False, "tools": ["icm.anchors.vvc_image"]}
    assert (tmp_path / "out.png").stat().st_size > 0
