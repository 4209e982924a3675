"""The conformance suite's expected outputs do not rest on icm-dec alone: the decoder written from the
specification (ctc_scripts/conformance/spec_decoder.py) reproduces the MD5 of every entry that decodes, partial
decodes included (VVC itself is decoded by ffmpeg in both), checks the full decodes against the streams' own
hashes (MD5 or CRC-32), and refuses every stream that must be refused, with the same kind of error."""
from icm.ctc_scripts.conformance import manifest
from icm.ctc_scripts.conformance.spec_cross_check import check


def test_spec_decoder_reproduces_every_recorded_md5_and_refusal():
    lines = []
    assert check(report=lines.append) == [], "\n".join(lines)
    assert len(lines) == len(manifest.load(manifest.FOLDER)["entries"]) >= 38
