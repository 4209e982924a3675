"""Parsing speed on header-heavy streams: the largest headers the level limits admit parse in bounded time.

The worst case of the report: 200 channel-group headers, each with 4,096 channels in 256 groups (scale and
offset each) and an explicit channel order of 4,096 ue(v) entries, 2.6 MB. Syntax version 3 allows one
channel-group header (and one payload unit) per tensor, so at most ``max_tensors`` (16 at level 2.0); the
decoder reads the units' framing first and refuses such a stream before parsing any body (0.5 ms measured),
and the largest stream it parses has 16 such headers, 210 KB (0.12 s measured, against 0.9 to 1.1 s for the
2.6 MB stream before).

Times are processor times, best of three; the bound is the issue's 1 s on a machine with no more runnable work
than cores; on an overloaded one (load average above twice the cores, as here while trainings run) processor
times grow too (shared caches and cores), so the bound grows with the load per core beyond 2. The speed-up of
the bulk reading over element-by-element reading is checked at any load.

``python tests/test_robustness_parsing.py OUT.icm`` writes that stream for measurements:
``/usr/bin/time -v .venv/bin/icm-dec -i OUT.icm``.
"""
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from icm.common.bitstream import Bitstream, new_parameter_set, parse, serialize
from icm.common.errors import BitstreamError, LevelLimitError
from icm.common.syntax.bitio import BitReader, BitWriter
from icm.common.syntax.levels import LEVELS
from icm.common.syntax.nodes import ForEach

HEADERS, CHANNELS, GROUPS = 200, LEVELS[20]["max_channels"], LEVELS[20]["max_groups"]
PARSE_LIMIT_S = 1.0
BIN = Path(sys.executable).parent


def channel_group_header(tensor_id: int, rng: random.Random, channels: int = CHANNELS, groups: int = GROUPS) -> dict:
    order = list(range(channels))
    rng.shuffle(order)
    return {"cg_tensor_id": tensor_id, "cg_num_channels": channels, "cg_num_groups": groups,
            "groups": [dict(cg_group_size=channels // groups, cg_scale=1.0 + g / 8) for g in range(groups)],
            "cg_offset_flag": 1, "offsets": [dict(cg_offset=g / 4 - 3) for g in range(groups)],
            "cg_channel_order_flag": 1, "order": [dict(cg_channel_index=c) for c in order]}


def header_heavy_bitstream(headers: int = HEADERS, seed: int = 13, tensors: int = 16) -> Bitstream:
    """A level-2.0 stream of ``headers`` channel-group headers for ``tensors`` tensors in turn (and no payload:
    decoders refuse it)."""
    rng = random.Random(seed)
    ps = new_parameter_set("vvc-image", 640, 480, ps_level_idc=20)
    bitstream = Bitstream(ps, channel_group_headers=[channel_group_header(i % tensors, rng) for i in range(headers)])
    bitstream.output_hash = dict(dh_hash_type=0, dh_output_type=0, dh_hash=bytes(16))
    return bitstream


@pytest.fixture(scope="module")
def heavy():
    """The largest headers a level-2.0 stream may carry: one channel-group header per tensor, 16 tensors."""
    bitstream = header_heavy_bitstream(headers=LEVELS[20]["max_tensors"])
    return bitstream, serialize(bitstream)


def forge(bitstream: Bitstream) -> bytes:
    """``bitstream`` written although it breaks the one-header-per-tensor rule (the writer does not check it)."""
    return serialize(bitstream)


def best_time(function, repeat: int = 3) -> float:
    """The least processor time of ``repeat`` calls (other work on the machine moves wall time)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        function()
        best = min(best, time.process_time() - start)
    return best


def time_limit(seconds: float = PARSE_LIMIT_S) -> float:
    """``seconds``, times the load average per core beyond 2 (see the module doc)."""
    load_per_core = os.getloadavg()[0] / (os.cpu_count() or 1)
    return seconds * max(1.0, load_per_core / 2)


def test_the_reported_worst_case_is_refused_before_its_bodies_are_parsed():
    data = forge(header_heavy_bitstream())  # 200 headers for 16 tensors, 2.6 MB
    assert len(data) > 2_600_000

    def refuse():
        with pytest.raises(LevelLimitError, match="more than max_tensors = 16 channel-group headers"):
            parse(data)
    assert best_time(refuse) < 0.05 * time_limit()
    repeated = forge(header_heavy_bitstream(headers=2, tensors=1))  # two headers for one tensor
    with pytest.raises(BitstreamError, match="two channel-group headers for one tensor"):
        parse(repeated)


def test_header_heavy_stream_parses_in_bounded_time(heavy):
    bitstream, data = heavy
    assert len(data) > 200_000
    assert best_time(lambda: parse(data)) < time_limit()
    again = parse(data)
    assert again.channel_group_headers == bitstream.channel_group_headers
    assert serialize(again) == data


def test_header_heavy_stream_traces_the_same_as_it_was_written(heavy):
    bitstream, _ = heavy
    bitstream = Bitstream(bitstream.parameter_set, channel_group_headers=bitstream.channel_group_headers[:3],
                          output_hash=bitstream.output_hash)
    written, read = [], []
    data = serialize(bitstream, tracer=lambda *line: written.append(line))
    parse(data, tracer=lambda *line: read.append(line))
    assert written == read
    assert sum(line[1] == "cg_channel_index" for line in read) == 3 * CHANNELS


def test_header_heavy_stream_damaged_is_refused_in_bounded_time(heavy):
    _, data = heavy
    for damaged in (data[:len(data) // 2], data[:-40], data[:150_000] + bytes(100) + data[150_100:]):
        start = time.process_time()
        with pytest.raises(BitstreamError):
            parse(damaged)
        assert time.process_time() - start < time_limit()


def test_bulk_reading_is_much_faster_than_element_by_element(heavy, monkeypatch):
    bitstream, _ = heavy
    data = serialize(bitstream)
    bulk = best_time(lambda: parse(data))
    monkeypatch.setattr(ForEach, "run_elements", property(lambda node: None))  # every array element by element
    one_by_one = best_time(lambda: parse(data), repeat=1)
    assert one_by_one > 3 * bulk   # 4.6 times measured (the old bit-by-bit reader: 12.6 times slower)


def test_channel_index_above_the_level_limit_is_refused_at_that_entry():
    bitstream = header_heavy_bitstream(headers=1)
    bitstream.channel_group_headers[0]["order"][-1]["cg_channel_index"] = CHANNELS + 1  # one above the limit
    with pytest.raises(ValueError, match="cg_channel_index"):  # the writer refuses it...
        serialize(bitstream)
    limits = dict(LEVELS[20])
    try:  # ... so forge it with a looser limit
        LEVELS[20]["max_channels"] = CHANNELS + 1
        forged = serialize(bitstream)
    finally:
        LEVELS[20].update(limits)
    traced = []
    refusal = f"cg_channel_index = {CHANNELS + 1} exceeds the level limit max_channels"
    with pytest.raises(LevelLimitError, match=refusal):
        parse(forged, tracer=lambda *line: traced.append(line))
    assert traced[-1][1:] == ("cg_channel_index", "ue(v)", CHANNELS + 1)   # traced up to the refused entry, as before
    assert sum(line[1] == "cg_channel_index" for line in traced) == CHANNELS


def test_icm_dec_refuses_the_header_heavy_stream_quickly(heavy, tmp_path):
    _, data = heavy
    stream = tmp_path / "heavy.icm"
    stream.write_bytes(data)
    start = time.monotonic()
    result = subprocess.run([str(BIN / "icm-dec"), "-i", str(stream)], capture_output=True, text=True, timeout=120)
    assert time.monotonic() - start < 10    # the command's own start-up (torch import) included
    assert result.returncode == 4, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


if __name__ == "__main__":
    Path(sys.argv[1]).write_bytes(serialize(header_heavy_bitstream()))


RUN_KINDS = [(("ue(v)", 0),), (("se(v)", 0),), (("u(n)", 5),), (("fl(32)", 32),), (("ue(v)", 0), ("fl(32)", 32)),
             (("u(n)", 3), ("se(v)", 0), ("ue(v)", 0))]


def read_one(reader: BitReader, kind: tuple):
    descriptor, bits = kind
    readers = {"ue(v)": reader.read_ue, "se(v)": reader.read_se, "fl(32)": reader.read_f32}
    return readers.get(descriptor, lambda: reader.read_bits(bits))()


def read_elementwise(data, start, end, kinds, count, bulk):
    """Values, positions, error and final position of ``count`` records; ``bulk``: through read_run first."""
    reader = BitReader(data, start, end)
    positions = []
    values = reader.read_run(kinds, count, positions) if bulk else []
    try:
        for index in range(len(values), count * len(kinds)):
            position = reader.bit_position
            values.append(read_one(reader, kinds[index % len(kinds)]))
            positions.append(position)
    except BitstreamError as exc:
        return repr(values), positions, str(exc), reader.bit_position
    return repr(values), positions, None, reader.bit_position


def test_bulk_runs_read_what_element_by_element_reads():
    rng = random.Random(5)
    for _ in range(3000):
        kinds = rng.choice(RUN_KINDS)
        writer = BitWriter()
        for _ in range(rng.randrange(0, 30)):
            for descriptor, bits in kinds:
                if descriptor == "ue(v)":
                    writer.write_ue(rng.choice([0, 1, 5, 100, 4095, 9000, 2**31, 2**32 - 2]))
                elif descriptor == "se(v)":
                    writer.write_se(rng.choice([0, -1, 1, -700, 2**20]))
                elif descriptor == "fl(32)":
                    writer.write_f32(rng.choice([0.5, -3.0, float("inf")]))
                else:
                    writer.write_bits(rng.randrange(1 << bits), bits)
        writer.write_bits(0, (-writer.bit_position) % 8)
        data = writer.getvalue()
        if data and rng.random() < 0.5:  # damage: cut, random bytes, long runs of zeros
            data = rng.choice([data[:rng.randrange(len(data))], rng.randbytes(len(data)),
                               bytes(rng.choice([0, 0, 1, 128]) for _ in data)])
        start = rng.randrange(0, min(8 * len(data), 13) + 1)
        end, count = rng.randrange(start, 8 * len(data) + 1), rng.randrange(0, 40)
        assert read_elementwise(data, start, end, kinds, count, bulk=True) == \
            read_elementwise(data, start, end, kinds, count, bulk=False), (kinds, data, start, end, count)
