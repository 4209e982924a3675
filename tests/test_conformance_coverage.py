"""Coverage of the conformance suite, from the streams themselves (walked with the syntax tracer) against the
syntax declaration: every syntax element occurs in at least one stream, every value of every enumerated element
and both values of every flag occur, every tool has a stream, every tool with channel groups a partial decode,
and every tool with decoder-side adapters an adapted decode.

The only values the suite may miss are the ``ps_tool_id`` of the tools still being built (``PENDING_TOOLS``).
Values that no tool of this version decodes (4:2:2 and 4:4:4 chroma) occur in streams that decoders must refuse.
"""
from icm.common.registry import default_registry
from icm.common.syntax import structures as S
from icm.common.syntax.levels import LEVELS
from icm.ctc_scripts.conformance import coverage, manifest as M
from icm.ctc_scripts.conformance.suite import PENDING_TOOLS, tool_ids_pending

ENTRIES = M.load(M.FOLDER)["entries"]
STREAMS = {e["stream"]: (M.FOLDER / e["stream"]).read_bytes() for e in ENTRIES}
DECODED = {e["stream"] for e in ENTRIES if e["expect"]["outcome"] == "decode"}
# values that only a must-reject stream can carry in this version, and why
REJECT_ONLY = {"ps_chroma_format_idc": {2, 3}}  # vvc-image decodes 4:2:0, vvc-feature 4:0:0 (decoding.md D.3.1)


def seen(streams) -> dict[str, set]:
    found: dict[str, set] = {}
    for name in streams:
        for element, values in coverage.values_seen(STREAMS[name]).items():
            found.setdefault(element, set()).update(values)
    return found


def test_every_syntax_element_occurs_in_a_stream():
    occurring = set()
    for data in STREAMS.values():
        occurring |= set(coverage.exercised(data))
    missing = [name for name in coverage.declared_elements() if name not in occurring]
    assert not missing, f"no conformance stream holds {missing}"
    assert len(coverage.declared_elements()) > 50


def test_every_enumerated_value_and_flag_value_occurs():
    found = seen(STREAMS)
    missing = {element: sorted(set(values) - found.get(element, set()))
               for element, values in coverage.declared_values().items()}
    missing = {element: values for element, values in missing.items() if values}
    pending = sorted(tool_ids_pending())
    assert missing == ({"ps_tool_id": pending} if pending else {}), missing
    assert set(coverage.declared_values()["fh_coding_mode"]) == {0, 1, 2}


def test_decodable_streams_cover_all_but_the_reject_only_values():
    found = seen(DECODED)
    only_rejected = {element: set(values) - found.get(element, set()) - (
        tool_ids_pending() if element == "ps_tool_id" else set())
        for element, values in coverage.declared_values().items()}
    assert {k: v for k, v in only_rejected.items() if v} == REJECT_ONLY


def test_every_tool_has_streams_grouped_tools_a_partial_decode_and_adapted_tools_an_adapted_decode():
    tools_with_streams = {e["tool"] for e in ENTRIES if e["expect"]["outcome"] == "decode"}
    partial = {e["tool"] for e in ENTRIES if e["decode"]["max_groups"] is not None}
    adapted = {e["tool"] for e in ENTRIES if M.decode_settings(e)["task_network"] is not None}
    for entry in default_registry().entries():
        if entry.name not in S.TOOLS.values() or entry.name in PENDING_TOOLS:
            continue
        assert entry.name in tools_with_streams, f"no conformance stream of {entry.name}"
        if entry.groups:
            assert entry.name in partial, f"no partial-decode entry for {entry.name}"
        if entry.adapters:
            assert entry.name in adapted, f"no adapted-decode entry for {entry.name}"
    assert not set(PENDING_TOOLS) & tools_with_streams, "a pending tool has streams: remove it from PENDING_TOOLS"


def test_adapted_and_partial_decodes_differ_from_the_plain_decode():
    """An adapter or a partial decode that gives the plain picture would test nothing (and an adapter that
    changes nothing has not been trained): their MD5s differ from the full plain decode of the same stream."""
    plain = {e["stream"]: e["expect"]["md5"] for e in ENTRIES
             if e["expect"]["outcome"] == "decode" and not any(M.decode_settings(e).values())}
    others = [e for e in ENTRIES if e["expect"]["outcome"] == "decode" and any(M.decode_settings(e).values())]
    assert others
    for entry in others:
        assert entry["expect"]["md5"] != plain[entry["stream"]], entry["name"]


def test_level_extremes_occur():
    """The largest group, channel, tensor-id and extension counts of both levels occur in decodable streams."""
    highest: dict[tuple[int, str], int] = {}
    for name in DECODED:
        exercised = coverage.exercised(STREAMS[name])
        level = exercised["ps_level_idc"][0]
        for element, (_, high) in exercised.items():
            highest[(level, element)] = max(high, highest.get((level, element), high))
    for level, limits in LEVELS.items():
        assert highest[(level, "cg_num_groups")] == limits["max_groups"]
        assert highest[(level, "cg_num_channels")] == limits["max_channels"]
        assert highest[(level, "cg_tensor_id")] == limits["max_tensors"]
        assert highest[(level, "ps_extension_length")] == limits["max_extension_bytes"]
    assert min(coverage.exercised(STREAMS[name])["ps_picture_width"][0] for name in DECODED) == 1
