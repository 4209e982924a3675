"""The decoding specification (docs/decoding.md, docs/entropy.md) against the code and the conformance streams.

Runs the fast checks of ``ctc_scripts/conformance/spec_check.py``: an independent decoder written from the two
documents decodes the mfc conformance streams (and, with ffmpeg, the VVC ones) to their recorded MD5s, its range
coder matches the C library, its tables, scales, integer graphs, colour conversion and resampler match the code.
"""
import hashlib

import numpy as np
import pytest

from icm.ctc_scripts.conformance import spec_check
from icm.ctc_scripts.conformance.dump_weights import convert, load

torch = pytest.importorskip("torch")


def test_spec_checks_pass():
    lines = []
    results = spec_check.run(full=False, report=lines.append)
    failed = [f"{name}: {detail}" for name, ok, detail in results if not ok]
    assert not failed, "\n".join(failed)
    names = {name for name, _, _ in results}
    assert {"scales", "tables", "escape", "range-coder", "crc32", "graphs", "layout", "mfc_q3", "mfc_q5",
            "mfc_q6", "colour", "resampler"} <= names


def test_dump_weights_keeps_every_tensor_and_the_file(tmp_path):
    source = spec_check.WEIGHTS / "mfc_q3.pt"
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    convert(source, tmp_path / "q3")
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before
    arrays, manifest = load(tmp_path / "q3")
    assert manifest["source"]["sha256"] == before  # ps_model_hash is its first 8 hex digits (decoding.md D.9)
    tree = torch.load(source, map_location="cpu", weights_only=True)
    assert np.array_equal(arrays["codecs/0/e/3/w3"], tree["codecs"][0]["e"][3]["w3"].numpy())
    assert arrays["codecs/0/prior/_medians"].dtype == np.float32
    assert manifest["values"]["format"] == "icm-mfc-1"
    assert manifest["values"]["config/codecs/0/groups"] == [4, 8, 16, 36]
    assert set(manifest["arrays"]) == set(arrays)
    assert len(arrays) == 150
