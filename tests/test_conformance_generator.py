"""make_conformance regenerates the suite deterministically: the streams made by the encoder without a float
network (vvc-image) come out byte for byte as stored (needs the shared data and VVenC), and the learned streams
are kept as they are unless --rewrite-learned, with what is written from them."""
import dataclasses

import pytest

from icm.common.registry import ToolInstances
from icm.ctc_scripts.conformance import build, manifest as M
from icm.ctc_scripts.conformance.suite import Encoded, by_name

RECORDS = {e["name"]: e for e in M.load(M.FOLDER)["entries"]}
VVC = [e for e in by_name().values() if isinstance(e, Encoded) and not e.learned]


@pytest.mark.parametrize("entry", VVC, ids=[e.name for e in VVC])
def test_vvc_streams_are_encoded_again_byte_for_byte(entry, shared):
    assert build.encode(entry, ToolInstances()) == (M.FOLDER / entry.stream).read_bytes()


def test_learned_streams_are_kept_and_their_entries_rebuilt(monkeypatch):
    def no_encoding(entry, tools):
        raise AssertionError(f"{entry.name} was encoded again")

    monkeypatch.setattr(build, "encode", no_encoding)
    suite = by_name()
    made = build.make([suite[n] for n in ("mfc_q3", "mfc_q3_offsets", "mfc_q3_groups0")], M.FOLDER,
                      report=lambda line: None)
    assert [m.record for m in made] == [RECORDS[n] for n in ("mfc_q3", "mfc_q3_offsets", "mfc_q3_groups0")]
    assert made[0].kept and made[1].data == (M.FOLDER / "mfc_q3_offsets.icm").read_bytes()


def test_a_decoder_that_does_not_refuse_a_must_reject_stream_stops_the_generator():
    """A Written entry that says 'refused' for a stream the decoder decodes (a wrong entry, or a decoder that
    accepts what it must refuse) is an error, not a stream of the suite."""
    wrong = dataclasses.replace(by_name()["vvc_image_informative_extremes"], name="wrong", reject=4)
    data = build.write(wrong, (M.FOLDER / "vvc_image_1x1.icm").read_bytes(), ToolInstances())
    with pytest.raises(build.SuiteError, match="must be refused"):
        build.decode_check("wrong", data, {}, 4, ToolInstances())
