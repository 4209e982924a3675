"""The conformance suite (tests/data/conformance): every entry of its manifest decodes to its recorded MD5 (or is
refused as recorded), the manifest and README describe the streams as they are, and the streams written through
the syntax declaration are rebuilt byte for byte from their sources (no shared data needed)."""
import hashlib

import pytest

from icm.common.config import DecoderConfig
from icm.common.errors import IcmError
from icm.common.output import GEOMETRY_ARRAY
from icm.common.registry import ToolInstances
from icm.ctc_scripts.conformance import coverage, manifest as M
from icm.ctc_scripts.conformance.build import write
from icm.ctc_scripts.conformance.make_conformance import coverage_rows
from icm.ctc_scripts.conformance.suite import Written, entries
from icm.decoder.pipeline import decode_bytes

FOLDER = M.FOLDER
MANIFEST = M.load(FOLDER)
ENTRIES = MANIFEST["entries"]


@pytest.fixture(scope="module")
def tools():
    """The decoders, torch on one thread (the output is the same on any thread count: the icm-conform test runs
    the suite with the default threads; one thread is several times faster on a busy machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield ToolInstances()
    torch.set_num_threads(threads)


def test_manifest_lists_every_stream_with_its_size_and_checksum():
    assert {e["stream"] for e in ENTRIES} == {p.name for p in FOLDER.glob("*.icm")}
    for entry in ENTRIES:
        data = (FOLDER / entry["stream"]).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["bytes"], entry["sha256"]), entry["name"]


def test_manifest_and_suite_declare_the_same_entries():
    assert [e["name"] for e in ENTRIES] == [e.name for e in entries()]
    assert len({e["name"] for e in ENTRIES}) == len(ENTRIES)


def test_exercised_elements_are_those_of_the_streams():
    for entry in ENTRIES:
        assert entry["exercises"] == coverage.exercised((FOLDER / entry["stream"]).read_bytes()), entry["name"]


def test_readme_is_generated_from_the_manifest():
    streams = [(e["name"], (FOLDER / e["stream"]).read_bytes()) for e in ENTRIES
               if all(value is None for value in M.decode_settings(e).values())]
    assert (FOLDER / "README.md").read_text() == M.readme(MANIFEST, coverage_rows(streams))


def test_suite_stays_small():
    assert sum(p.stat().st_size for p in FOLDER.iterdir()) < 300_000


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["name"] for e in ENTRIES])
def test_entry_decodes_as_recorded(entry, tools):
    data = (FOLDER / entry["stream"]).read_bytes()
    expect, decode = entry["expect"], M.decode_settings(entry)
    if expect["outcome"] == "reject":
        with pytest.raises(IcmError) as error:
            decode_bytes(data, DecoderConfig(**decode), tools=tools)
        assert error.value.exit_code == expect["exit_status"] and "\n" not in str(error.value)
        return
    result = decode_bytes(data, DecoderConfig(**decode), tools=tools)
    assert result.output.md5().hex() == expect["md5"]
    stream_hash = result.output.digest(result.bitstream.output_hash["dh_hash_type"]).hex()
    if decode["task_network"] is not None:  # the adapted picture; the plain one it is made from was hash-checked
        assert result.output.adapted_for == decode["task_network"]
        assert result.hash_hex is not None and result.hash_hex != stream_hash
    else:
        assert result.hash_hex == (stream_hash if decode["max_groups"] is None else None)  # partial: not checked
    assert {0: "picture", 1: "features"}[result.output.output_type] == expect["output"]
    geometry = [GEOMETRY_ARRAY] if result.output.features else []
    assert result.output.feature_names + geometry == expect.get("arrays", [])


WRITTEN = [e for e in entries() if isinstance(e, Written)]


@pytest.mark.parametrize("entry", WRITTEN, ids=[e.name for e in WRITTEN])
def test_written_stream_is_rebuilt_from_its_source(entry, tools):
    source = next(e for e in ENTRIES if e["name"] == entry.source)
    rebuilt = write(entry, (FOLDER / source["stream"]).read_bytes(), tools)
    assert rebuilt == (FOLDER / entry.stream).read_bytes()
