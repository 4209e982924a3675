"""An independent decoder written from ``docs/decoding.md`` and ``docs/entropy.md`` alone (syntax version 3).

It exists to check the specification, not to replace ``icm-dec``: it never imports ``icm``, torch or the
``range-coder`` package. It uses Python integers, numpy, hashlib and struct, and reads the ``mfc`` weights from the
non-pickle ``.npz`` + JSON that ``dump_weights.py`` writes and the ``ci-icm`` weights from their own ``.npz`` (D.12).
Section numbers in comments refer to ``docs/decoding.md`` (D.x) and ``docs/entropy.md`` (E.x); the syntax and
level limits are those of ``docs/bitstream.md``.

Covered: the container (D.2: version byte, units, level limits, payload substreams, the default task input size,
the checks across units), the range decoder and encoder (E.2), every table (E.3 to E.6), the substream layout
(E.7), the ``mfc`` decoding process with the headers its model implies and its integer networks (D.5, D.6), the
``ci-icm`` decoding process (D.11): its weights file read with ``numpy.load(..., allow_pickle=False)`` and checked
as D.12 says (``CiIcmModel``), the model ids, the implied or sent channel-group header and its checks, the hyper
latent with its gain, the channel groups with their gains and the channel-importance context, synthesis, the
resampling to the output size, partial decoding and the task adapters; the steps of ``vvc-image`` and
``vvc-feature`` that follow the VVC decoder (D.3, D.4): colour conversion, chroma upsampling, resampling,
untiling, dequantisation; and the decoded-output hash, MD5 or CRC-32 (D.7). The VVC decoding itself is not
re-implemented (``decode_vvc`` calls ffmpeg).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np


class SpecError(Exception):
    """The stream breaks a rule of the specification (``icm-dec`` exit status 4)."""


class LevelError(SpecError):
    """A value beyond a level limit or beyond an element's range (``icm-dec`` exit status 5)."""


class HashError(SpecError):
    """The output does not match the stream's decoded-output hash (``icm-dec`` exit status 6, D.7)."""


class ModelError(SpecError):
    """A model the decoder does not have, or a model file that is not valid (``icm-dec`` exit status 7, D.9, D.12)."""


# ================================================================================================ D.2 container

# bitstream.md, "Level limits"
LEVELS = {
    10: dict(max_picture_width=4096, max_picture_height=4096, max_picture_samples=9437184, max_tensors=8,
             max_channels=1024, max_feature_dim=1024, max_feature_samples=4194304, max_groups=64,
             max_payload_bytes=16777216, max_units=1024, max_extension_bytes=1024),
    20: dict(max_picture_width=8192, max_picture_height=8192, max_picture_samples=35651584, max_tensors=16,
             max_channels=4096, max_feature_dim=2048, max_feature_samples=16777216, max_groups=256,
             max_payload_bytes=67108864, max_units=4096, max_extension_bytes=4096),
}
MAGIC = 0x49434D42
SYNTAX_VERSION_MAJOR = 3
TASK_NETWORK_DEFAULT_INPUT = {1: (320, 320), 2: (320, 320)}  # D.2.5
TOOL_OUTPUT_TYPES = {0: 0, 1: 1, 2: 1, 3: 0, 4: 0}  # D.2.5: dh_output_type of each tool
HASH_BYTES = {0: 16, 1: 4}  # D.7: MD5, CRC-32


class BitReader:
    def __init__(self, data: bytes):
        self.data = bytes(data)
        self.pos = 0  # bit position

    @property
    def bits_left(self) -> int:
        return 8 * len(self.data) - self.pos

    def u(self, n: int) -> int:
        if n > self.bits_left:
            raise SpecError("read past the end")
        value = 0
        for _ in range(n):
            value = (value << 1) | ((self.data[self.pos >> 3] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise SpecError("ue(v) prefix longer than 31 zero bits")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k % 2 else -(k // 2)

    def fl32(self) -> float:
        value = struct.unpack(">f", struct.pack(">I", self.u(32)))[0]
        if not math.isfinite(value):
            raise LevelError("fl(32) is NaN or infinite")
        return value

    def align(self) -> None:
        while self.pos % 8:
            if self.u(1):
                raise SpecError("alignment_zero_bit is 1")

    def bytes(self, n: int) -> bytes:
        if self.pos % 8 or 8 * n > self.bits_left:
            raise SpecError("byte read not aligned or past the end")
        start = self.pos // 8
        self.pos += 8 * n
        return self.data[start:start + n]

    def rest(self) -> bytes:
        """An element "rest of the unit" (D.2.2): every byte to the end of the body."""
        return self.bytes(self.bits_left // 8)


class Level:
    """D.2.1: the limits in force; the largest level's until ``ps_level_idc`` is read."""

    def __init__(self):
        self.limits = LEVELS[max(LEVELS)]

    def set(self, level_idc: int) -> None:
        if level_idc not in LEVELS:
            raise LevelError(f"unknown ps_level_idc {level_idc}")
        self.limits = LEVELS[level_idc]

    def check(self, name: str, value: int, lo: int | None = None, hi: int | None = None,
              limit: str | None = None) -> int:
        """An element's range and level limit (bitstream.md's semantics), checked as soon as it is read."""
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise LevelError(f"{name} = {value} outside its range")
        if limit is not None and value > self.limits[limit]:
            raise LevelError(f"{name} = {value} above the level's {limit} = {self.limits[limit]}")
        return value


def _parameter_set(r: BitReader, lv: Level) -> dict:
    ps = {"ps_level_idc": r.u(8)}
    lv.set(ps["ps_level_idc"])
    ps["ps_tool_id"] = lv.check("ps_tool_id", r.ue(), hi=255)
    ps["ps_model_id"] = lv.check("ps_model_id", r.ue(), hi=255)
    ps["ps_model_layout_flag"] = 0  # inferred when absent (D.2.5)
    if ps["ps_model_id"]:
        ps["ps_model_hash"] = r.u(32)
        ps["ps_model_layout_flag"] = r.u(1)
    ps["ps_picture_width"] = lv.check("ps_picture_width", r.ue(), lo=1, limit="max_picture_width")
    ps["ps_picture_height"] = lv.check("ps_picture_height", r.ue(), lo=1, limit="max_picture_height")
    ps["ps_bit_depth_minus8"] = lv.check("ps_bit_depth_minus8", r.ue(), hi=8)
    ps["ps_task_network_id"] = lv.check("ps_task_network_id", r.ue(), hi=2)  # 3..255 reserved (D.2.5)
    if ps["ps_task_network_id"]:
        ps["ps_task_input_size_flag"] = r.u(1)
        if ps["ps_task_input_size_flag"]:
            ps["ps_task_input_width"] = lv.check("ps_task_input_width", r.ue(), lo=1, limit="max_picture_width")
            ps["ps_task_input_height"] = lv.check("ps_task_input_height", r.ue(), lo=1,
                                                  limit="max_picture_height")
    ps["ps_inner_codec_id"] = lv.check("ps_inner_codec_id", r.ue(), hi=1)
    if ps["ps_inner_codec_id"]:
        ps["ps_coded_bit_depth_minus8"] = lv.check("ps_coded_bit_depth_minus8", r.ue(), hi=8)
        ps["ps_chroma_format_idc"] = r.u(2)
        ps["ps_colour_matrix_idc"] = lv.check("ps_colour_matrix_idc", r.u(4), hi=2)
        ps["ps_full_range_flag"] = r.u(1)
        ps["ps_qp"] = lv.check("ps_qp", r.se(), lo=-64, hi=63)
    ps["ps_resampling_flag"] = r.u(1)
    if ps["ps_resampling_flag"]:
        ps["ps_coded_width"] = lv.check("ps_coded_width", r.ue(), lo=1, limit="max_picture_width")
        ps["ps_coded_height"] = lv.check("ps_coded_height", r.ue(), lo=1, limit="max_picture_height")
        ps["ps_resampling_filter_idc"] = lv.check("ps_resampling_filter_idc", r.ue(), hi=1)
    ps["ps_extension_flag"] = r.u(1)
    if ps["ps_extension_flag"]:
        length = lv.check("ps_extension_length", r.ue(), limit="max_extension_bytes")
        r.align()
        ps["ps_extension_data"] = r.bytes(length)
    r.align()
    return ps


def _feature_header(r: BitReader, lv: Level) -> dict:
    tensors = []
    for _ in range(lv.check("fh_num_tensors", r.ue(), lo=1, limit="max_tensors")):
        t = {"fh_tensor_id": lv.check("fh_tensor_id", r.ue(), limit="max_tensors"),
             "fh_channels": lv.check("fh_channels", r.ue(), lo=1, limit="max_channels"),
             "fh_height": lv.check("fh_height", r.ue(), lo=1, limit="max_feature_dim"),
             "fh_width": lv.check("fh_width", r.ue(), lo=1, limit="max_feature_dim"),
             "fh_stride_log2": r.u(4),
             "fh_coding_mode": lv.check("fh_coding_mode", r.u(2), hi=2)}
        if t["fh_coding_mode"]:
            t["fh_reference_id"] = lv.check("fh_reference_id", r.ue(), limit="max_tensors")
        t["fh_range_flag"] = r.u(1)
        if t["fh_range_flag"]:
            t["fh_quant_bit_depth_minus1"] = lv.check("fh_quant_bit_depth_minus1", r.u(4), hi=15)
            t["fh_min_value"], t["fh_max_value"] = r.fl32(), r.fl32()
        t["fh_packing_idc"] = lv.check("fh_packing_idc", r.u(4), hi=1)
        if t["fh_packing_idc"] == 1:
            t["fh_tile_columns"] = lv.check("fh_tile_columns", r.ue(), lo=1, limit="max_channels")
        tensors.append(t)
    r.align()
    return {"tensors": tensors}


def _channel_group_header(r: BitReader, lv: Level) -> dict:
    cg = {"cg_tensor_id": lv.check("cg_tensor_id", r.ue(), limit="max_tensors"),
          "cg_num_channels": lv.check("cg_num_channels", r.ue(), lo=1, limit="max_channels")}
    groups = lv.check("cg_num_groups", r.ue(), lo=1, limit="max_groups")
    cg["cg_group_size"], cg["cg_scale"] = [], []
    for _ in range(groups):
        cg["cg_group_size"].append(lv.check("cg_group_size", r.ue(), lo=1, limit="max_channels"))
        scale = r.fl32()
        if scale <= 0:
            raise LevelError("cg_scale is not > 0")
        cg["cg_scale"].append(scale)
    cg["cg_offset_flag"] = r.u(1)
    cg["cg_offset"] = [r.fl32() for _ in range(groups)] if cg["cg_offset_flag"] else [0.0] * groups
    if r.u(1):
        cg["cg_channel_index"] = [lv.check("cg_channel_index", r.ue(), limit="max_channels")
                                  for _ in range(cg["cg_num_channels"])]
    else:
        cg["cg_channel_index"] = None  # index order
    r.align()
    return cg


def _payload(r: BitReader, lv: Level) -> dict:
    """D.2.4: one tensor's payload; ``substreams`` split for pl_type 0."""
    pl = {"pl_type": lv.check("pl_type", r.u(2), hi=1),
          "pl_tensor_id": lv.check("pl_tensor_id", r.ue(), limit="max_tensors")}
    sizes = []
    if pl["pl_type"] == 0:
        count = lv.check("pl_num_substreams_minus1", r.ue(), limit="max_groups") + 1
        sizes = [lv.check("pl_substream_size", r.ue(), limit="max_payload_bytes") for _ in range(count - 1)]
    r.align()
    pl["pl_data"] = r.rest()
    if pl["pl_type"] == 0:
        if sum(sizes) > len(pl["pl_data"]):
            raise SpecError("substream sizes add up to more than the payload's bytes")
        starts = [sum(sizes[:i]) for i in range(len(sizes) + 1)]
        ends = starts[1:] + [len(pl["pl_data"])]
        pl["substreams"] = [pl["pl_data"][a:b] for a, b in zip(starts, ends)]
    return pl


def _hash(r: BitReader, lv: Level) -> dict:
    return {"dh_hash_type": lv.check("dh_hash_type", r.u(4), hi=1),
            "dh_output_type": lv.check("dh_output_type", r.u(4), hi=1), "dh_hash": r.rest()}


BODIES = {0: _parameter_set, 1: _feature_header, 2: _channel_group_header, 3: _payload, 4: _hash}


def parse(data: bytes) -> dict:
    """D.2: the units of a bitstream, checked: ``ps``, ``fh`` (None or a dict), ``cg`` (list), ``pl`` (payload
    units by ``pl_tensor_id``), ``dh``; ``ps`` gets the task input size resolved (D.2.5)."""
    r = BitReader(data)
    if r.u(32) != MAGIC:
        raise SpecError("not an ICM bitstream")
    major, _minor = r.u(4), r.u(4)  # D.2.1: every minor version is accepted
    if major != SYNTAX_VERSION_MAJOR:
        raise SpecError(f"syntax version {major}.{_minor}: this decoder reads version 3")
    lv = Level()
    stream = {"ps": None, "fh": None, "cg": [], "pl": {}, "dh": None}
    units = 0
    while r.bits_left:  # more_data_in_bitstream()
        units += 1
        if units > lv.limits["max_units"]:
            raise LevelError("more units than the level's max_units")
        unit_type = r.u(4)
        size = lv.check("unit_size", r.ue(), limit="max_payload_bytes")
        r.align()
        body = BitReader(r.bytes(size))
        if stream["dh"] is not None:
            raise SpecError("a unit after the decoded-output hash")
        if stream["ps"] is None and unit_type != 0:
            raise SpecError("the first unit is not a parameter set")
        if unit_type not in BODIES:
            continue  # reserved: skipped whole
        value = BODIES[unit_type](body, lv)
        if body.bits_left:
            raise SpecError("bytes left over inside a unit")
        if unit_type == 0:
            if stream["ps"] is not None:
                raise SpecError("two parameter sets")
            stream["ps"] = value
        elif unit_type == 1:
            if stream["fh"] is not None:
                raise SpecError("two feature headers")
            stream["fh"] = value
        elif unit_type == 2:
            stream["cg"].append(value)
        elif unit_type == 3:
            if value["pl_tensor_id"] in stream["pl"]:
                raise SpecError(f"two payload units for tensor {value['pl_tensor_id']}")
            stream["pl"][value["pl_tensor_id"]] = value
        else:
            stream["dh"] = value
    if stream["dh"] is None:
        raise SpecError("no decoded-output hash")
    _check_across_units(stream, lv.limits)
    return stream


def _check_across_units(stream: dict, limits: dict) -> None:
    """D.2.5, D.2.6, in the order of D.2.6."""
    ps = stream["ps"]
    if ps["ps_task_network_id"] and not ps["ps_task_input_size_flag"]:
        if ps["ps_task_network_id"] not in TASK_NETWORK_DEFAULT_INPUT:
            raise SpecError("ps_task_input_size_flag 0 for a task network without a default input size")
        ps["ps_task_input_width"], ps["ps_task_input_height"] = TASK_NETWORK_DEFAULT_INPUT[ps["ps_task_network_id"]]
    if ps["ps_model_layout_flag"] and (stream["fh"] is not None or stream["cg"]):
        raise SpecError("a feature or channel-group header with ps_model_layout_flag 1")
    dh = stream["dh"]
    if len(dh["dh_hash"]) != HASH_BYTES[dh["dh_hash_type"]]:
        raise SpecError("dh_hash has the wrong length for its dh_hash_type")
    if ps["ps_tool_id"] in TOOL_OUTPUT_TYPES and dh["dh_output_type"] != TOOL_OUTPUT_TYPES[ps["ps_tool_id"]]:
        raise SpecError("dh_output_type is not the output type of the stream's tool")
    if ps["ps_picture_width"] * ps["ps_picture_height"] > limits["max_picture_samples"]:
        raise LevelError("picture above max_picture_samples")
    if ps["ps_resampling_flag"] and ps["ps_coded_width"] * ps["ps_coded_height"] > limits["max_picture_samples"]:
        raise LevelError("coded picture above max_picture_samples")
    if stream["fh"] is not None:
        seen = set()
        for t in stream["fh"]["tensors"]:
            if t["fh_channels"] * t["fh_height"] * t["fh_width"] > limits["max_feature_samples"]:
                raise LevelError("tensor above max_feature_samples")
            if t["fh_tensor_id"] in seen:
                raise SpecError("fh_tensor_id twice")
            seen.add(t["fh_tensor_id"])
            if not ps["ps_task_network_id"]:
                raise SpecError("a feature header without a task network")
            stride = 1 << t["fh_stride_log2"]
            if (t["fh_width"] * stride, t["fh_height"] * stride) != (ps["ps_task_input_width"],
                                                                     ps["ps_task_input_height"]):
                raise SpecError(f"tensor {t['fh_tensor_id']} times its stride is not the task input size")
    for cg in stream["cg"]:
        if sum(cg["cg_group_size"]) != cg["cg_num_channels"]:
            raise SpecError("channel group sizes do not add up to cg_num_channels")
        order = cg["cg_channel_index"]
        if order is not None and sorted(order) != list(range(cg["cg_num_channels"])):
            raise SpecError("cg_channel_index is not a permutation")


def inner_payload(stream: dict, tensor_id: int) -> bytes:
    """D.2.4: the inner-codec bitstream of a tensor (pl_type 1)."""
    pl = stream["pl"].get(tensor_id)
    if pl is None or pl["pl_type"] != 1:
        raise SpecError(f"no inner-codec payload for tensor {tensor_id}")
    return pl["pl_data"]


def substream(stream: dict, tensor_id: int, index: int) -> bytes:
    """D.2.4: substream ``index`` of a tensor's entropy-coded payload: 0 the side information, 1 + g group g."""
    pl = stream["pl"].get(tensor_id)
    if pl is None or pl["pl_type"] != 0:
        raise SpecError(f"no entropy-coded payload for tensor {tensor_id}")
    if index >= len(pl["substreams"]):
        raise SpecError(f"tensor {tensor_id}'s payload has no substream {index}")
    return pl["substreams"][index]


# ================================================================================================ E.2 range coder

M32 = 0xFFFFFFFF
TOP = 1 << 24


class RangeDecoder:
    """E.2: 32-bit range decoder; past the end of the data it reads 0xFF bytes."""

    def __init__(self, data: bytes):
        self.data, self.next = bytes(data), 0
        self.R, self.D = M32, 0
        for _ in range(4):
            self.D = ((self.D << 8) | self._byte()) & M32

    def _byte(self) -> int:
        if self.next < len(self.data):
            self.next += 1
            return self.data[self.next - 1]
        return 0xFF

    def decode(self, cdf) -> int:
        total = cdf[-1]
        r = self.R // total
        target = min(total - 1, self.D // r)
        lo, hi = 0, len(cdf) - 2  # the symbol s with cdf[s] <= target < cdf[s + 1]
        while lo < hi:
            mid = (lo + hi) // 2
            if cdf[mid + 1] <= target:
                lo = mid + 1
            else:
                hi = mid
        low, high = cdf[lo], cdf[lo + 1]
        self.D = (self.D - r * low) & M32
        self.R = r * (high - low) if high != total else self.R - r * low
        while self.R < TOP:
            self.R = (self.R << 8) & M32
            self.D = ((self.D << 8) | self._byte()) & M32
        return lo


class RangeEncoder:
    """E.2: the encoder whose output a decoder re-creates to check a substream's exactness."""

    def __init__(self):
        self.L, self.R, self.buffer, self.carry, self.start = 0, M32, 0, 0, True
        self.out = bytearray()

    def encode(self, s: int, cdf) -> None:
        low, high, total = cdf[s], cdf[s + 1], cdf[-1]
        r = self.R // total
        self.R = r * (high - low) if high < total else self.R - r * low
        new_l = (self.L + r * low) & M32
        if new_l < self.L:  # carry into the bytes not yet written
            self.buffer = (self.buffer + 1) & 0xFF
            while self.carry:
                self.out.append(self.buffer)
                self.buffer, self.carry = 0, self.carry - 1
        self.L = new_l
        while self.R < TOP:
            byte = self.L >> 24
            if self.start:
                self.buffer, self.start = byte, False
            elif byte == 0xFF:
                self.carry += 1
            else:
                self.out.append(self.buffer)
                self.out += b"\xff" * self.carry
                self.buffer, self.carry = byte, 0
            self.L, self.R = (self.L << 8) & M32, (self.R << 8) & M32

    def finish(self) -> bytes:
        if not self.start:
            self.out.append(self.buffer)
            self.out += b"\xff" * self.carry
        t = (self.L + self.R) & M32
        while True:
            self.out.append(self.L >> 24)
            if t >> 24 != self.L >> 24:
                break
            t, self.L = (t << 8) & M32, (self.L << 8) & M32
        return bytes(self.out)


# ================================================================================================ E.3 tables

def quantize_weights(weights, total: int = 1 << 16) -> list[int]:
    """E.3: integer weights -> frequencies (each >= 1) summing to ``total``."""
    w = [int(x) for x in weights]
    big_w = sum(w)
    if big_w == 0:
        w, big_w = [1] * len(w), len(w)
    f = [max(x * total // big_w, 1) for x in w]
    r = [x * total % big_w for x in w]
    d = total - sum(f)
    if d > 0:
        for i in sorted(range(len(f)), key=lambda i: (-r[i], i))[:d]:
            f[i] += 1
    while d < 0:
        takers = [i for i in sorted(range(len(f)), key=lambda i: (-f[i], i)) if f[i] > 1][:-d]
        for i in takers:
            f[i] -= 1
        d = total - sum(f)
    return f


def cumulative(freqs) -> list[int]:
    out = [0]
    for f in freqs:
        out.append(out[-1] + f)
    return out


TERMINATOR_CDF = [0, 65535, 65536]
BIT_CDF = [0, 32768, 65536]
PREFIX_CDF = cumulative(quantize_weights([1 << (32 - p) for p in range(33)]))


def uniform_cdf(shift: int) -> list[int]:
    return [i << (16 - shift) for i in range((1 << shift) + 1)]


# E.4 the normal CDF in integers (the reference algorithm)
_F, _HB = 64, 128
_PI50 = 314159265358979323846264338327950288419716939937510


def _hermite(k: int, count: int) -> list[int]:
    p = [1, k]
    for n in range(1, count - 1):
        p.append(k * p[n] - 64 * n * p[n - 1])
    return p[:count]


@lru_cache(maxsize=1)
def _phi_tables():
    inv_sqrt = math.isqrt((1 << (2 * _HB)) * 10 ** 50 // (2 * _PI50))
    density = []
    for k in range(65):
        one = 1 << _HB
        term = total = one
        n = 1
        while term:
            term = term * k * k // (128 * n)
            total += term
            n += 1
        density.append(inv_sqrt * (one * one // total) >> _HB)
    anchor_high = [1 << (_HB - 1)]
    for k in range(64):
        p = _hermite(k, 40)
        step = 0
        for n in range(40):
            term = density[k] * p[n] // (8 * 64 ** n * math.factorial(n + 1))
            step += -term if n % 2 else term
        anchor_high.append(anchor_high[-1] + step)
    anchor = [c >> (_HB - _F) for c in anchor_high]
    coef = [[0] * 65 for _ in range(16)]
    for k in range(65):
        p = _hermite(k, 16)
        for n in range(16):
            value = density[k] * p[n] // ((8 ** n * math.factorial(n + 1)) << (_HB - _F))
            coef[n][k] = -value if n % 2 else value
    return anchor, coef


def phi_fixed(num: int, den: int) -> int:
    """E.4: Phi(num / den) in units of 2**-64 (the reference algorithm)."""
    anchor_cdf, coef = _phi_tables()
    one = 1 << _F
    a = abs(num)
    k = (16 * a + den) // (2 * den)
    if k > 64:
        upper = one
    else:
        delta = ((8 * a - k * den) << _F) // (8 * den)
        acc = coef[15][k]
        for n in range(14, -1, -1):
            acc = coef[n][k] + ((acc * delta) >> _F)
        upper = min(max(anchor_cdf[k] + ((acc * delta) >> _F), 0), one)
    return upper if num >= 0 else one - upper


# E.5 the Gaussian tables
SCALES_Q16 = (
    7209, 8153, 9221, 10428, 11793, 13338, 15084, 17060, 19293, 21820, 24677, 27908, 31563,
    35696, 40370, 45657, 51635, 58397, 66043, 74691, 84472, 95533, 108043, 122191, 138191,
    156287, 176752, 199897, 226073, 255677, 289157, 327021, 369843, 418272, 473044, 534987,
    605042, 684270, 773872, 875208, 989814, 1119426, 1266011, 1431791, 1619278, 1831317,
    2071121, 2342327, 2649047, 2995930, 3388236, 3831913, 4333688, 4901169, 5542960, 6268790,
    7089666, 8018032, 9067964, 10255381, 11598287, 13117040, 14834670, 16777216,
)


def derive_scales() -> list[int]:
    """E.5: round(2**16 * exp(log(0.11) + (log(256) - log(0.11)) * j / 63)), j = 0..63, in float64."""
    a, b = math.log(0.11), math.log(256.0)
    step = (b - a) / 63
    return [round(65536.0 * math.exp(a + j * step)) for j in range(64)]


def gaussian_layout(s_q16: int) -> tuple[int, int, int]:
    """E.5: (bins, shift, low) of the table of scale ``s_q16 / 2**16``."""
    h = max(1, -(-9 * s_q16 // (2 << 16)))
    count = 2 * h + 1
    shift = 0
    while -(-count // (1 << shift)) > 1023:
        shift += 1
    bins = -(-count // (1 << shift))
    return bins, shift, -((bins * (1 << shift) - 1) // 2)


@lru_cache(maxsize=None)
def gaussian_table(j: int) -> tuple[tuple[int, ...], int, int]:
    """E.5: (cdf, low, shift) of Gaussian table ``j``."""
    s = SCALES_Q16[j]
    bins, shift, low = gaussian_layout(s)
    c = []
    for q in range(bins + 1):
        edge = low + (q << shift)
        value = phi_fixed((2 * edge - 1) << 15, s) >> 24
        c.append(max(value, c[-1]) if c else value)
    weights = [c[q + 1] - c[q] for q in range(bins)] + [c[0] + (1 << 40) - c[bins]]
    return tuple(cumulative(quantize_weights(weights))), low, shift


def scale_index(q: int) -> int:
    """E.5: the table of an integer scale q (units of 2**-10; negative values count as 0)."""
    q = max(q, 0)
    return min(sum(1 for s in SCALES_Q16 if s << 10 < q << 16), 63)


# ================================================================================================ E.7 substreams

def decode_indexed(data: bytes, indexes: list[int], tables) -> list[int]:
    """E.7: values in raster order for the per-value table ``indexes``; ``tables(t)`` -> (cdf, low, shift)."""
    n = len(indexes)
    values = [0] * n
    if n == 0:
        if data:
            raise SpecError("data for an empty substream")
        return values
    rd, check = RangeDecoder(data), RangeEncoder()

    def read(cdf) -> int:
        s = rd.decode(cdf)
        check.encode(s, cdf)
        return s

    escaped = []  # (position, t) in the order the symbols were read
    for t in sorted(set(indexes)):
        cdf, low, shift = tables(t)
        bins = len(cdf) - 2
        positions = [i for i in range(n) if indexes[i] == t]
        kept = []
        for i in positions:
            sym = read(cdf)
            if sym < bins:
                values[i] = low + (sym << shift)
                kept.append(i)
            else:
                escaped.append((i, t))
        if shift:
            for i in kept:
                values[i] += read(uniform_cdf(shift))
    prefixes = [read(PREFIX_CDF) for _ in escaped]
    for (i, t), p in zip(escaped, prefixes):
        cdf, low, shift = tables(t)
        below = read(BIT_CDF)
        m1 = 1
        for _ in range(p):
            m1 = 2 * m1 + read(BIT_CDF)
        high = low + ((len(cdf) - 2) << shift)
        values[i] = low - 1 - (m1 - 1) if below else high + (m1 - 1)
        if not -(1 << 31) <= values[i] < (1 << 31):
            raise SpecError("escaped value outside int32")
    if read(TERMINATOR_CDF) != 0:
        raise SpecError("bad terminator")
    if check.finish() != bytes(data):
        raise SpecError("the substream is not exactly the encoding of the decoded symbols")
    return values


# ================================================================================================ D.6 integer networks

ACT_LIMIT = (1 << 21) - 1


def conv(a: np.ndarray, w: np.ndarray, b: np.ndarray, s: np.ndarray, stride: int, groups: int) -> np.ndarray:
    """D.6 conv: int64 in (C, H, W), int16 weights, int64 biases, per-channel shifts; saturated output."""
    cin, h, wd = a.shape
    cout, cpg, k, _ = w.shape
    p = k // 2
    ho, wo = (h + 2 * p - k) // stride + 1, (wd + 2 * p - k) // stride + 1
    padded = np.zeros((cin, h + 2 * p, wd + 2 * p), np.int64)
    padded[:, p:p + h, p:p + wd] = a
    # patches[c, ky, kx, y, x] = padded[c, y*stride + ky, x*stride + kx]
    patches = np.empty((cin, k, k, ho, wo), np.int64)
    for ky in range(k):
        for kx in range(k):
            patches[:, ky, kx] = padded[:, ky:ky + stride * (ho - 1) + 1:stride, kx:kx + stride * (wo - 1) + 1:stride]
    w64 = w.astype(np.int64)
    opg = cout // groups
    acc = np.empty((cout, ho, wo), np.int64)
    for g in range(groups):
        cols = patches[g * cpg:(g + 1) * cpg].reshape(cpg * k * k, ho * wo)
        acc[g * opg:(g + 1) * opg] = (w64[g * opg:(g + 1) * opg].reshape(opg, -1) @ cols).reshape(opg, ho, wo)
    shifts = s.astype(np.int64)
    half = np.where(shifts > 0, np.left_shift(1, np.maximum(shifts - 1, 0)), 0)
    out = (acc + (b.astype(np.int64) + half)[:, None, None]) >> shifts[:, None, None]
    return np.clip(out, -ACT_LIMIT, ACT_LIMIT)


def activate(a: np.ndarray, act: str) -> np.ndarray:
    if act == "leaky":
        return np.where(a >= 0, a, (a * 205) >> 11)
    if act == "relu":
        return np.maximum(a, 0)
    return a


def shuffle(a: np.ndarray, r: int) -> np.ndarray:
    c, h, w = a.shape
    return a.reshape(c // (r * r), r, r, h, w).transpose(0, 3, 1, 4, 2).reshape(c // (r * r), h * r, w * r)


def check_bound(w: np.ndarray, b: np.ndarray, s: np.ndarray, k: int) -> None:
    """D.6.1: |w| <= 2^15 - 1, 0 <= s <= 30, and sum |w[o]| * A_MAX + |b[o]| + 2^30 < 2^52 for every output o; a file
    that breaks it is not a valid model (D.9)."""
    w64 = np.abs(w.astype(np.int64))
    if w64.max(initial=0) > (1 << 15) - 1 or s.min(initial=0) < 0 or s.max(initial=0) > 30:
        raise ModelError(f"conv {k}: weights or shifts out of range (D.6.1)")
    for o in range(w.shape[0]):
        if int(w64[o].sum()) * ACT_LIMIT + abs(int(b[o])) + (1 << 30) >= 1 << 52:
            raise ModelError(f"conv {k}: a partial sum could reach 2^52 (D.6.1)")


def run_graph(graph: dict, weights: dict, inputs: list[np.ndarray], every_output: bool = False):
    """D.6: ``graph`` = {"convs": [[cin, cout, k, stride, groups]...], "nodes": [[op, srcs, arg, act]...],
    "outputs": None or [i]}; ``weights[f"w{k}"]`` etc. With ``every_output`` the list of the nodes ``outputs``
    names (``ci-icm``'s ``g_s``, D.6.2, D.11.4)."""
    values: list[np.ndarray] = []

    def get(i: int) -> np.ndarray:
        return inputs[-1 - i] if i < 0 else values[i]

    for op, srcs, arg, act in graph["nodes"]:
        if op == "conv":
            cin, cout, k, stride, groups = graph["convs"][arg]
            w = weights[f"w{arg}"]
            if w.shape != (cout, cin // groups, k, k):
                raise ModelError(f"conv {arg}: weights {w.shape} do not match the graph")
            check_bound(w, weights[f"b{arg}"], weights[f"s{arg}"], arg)
            out = activate(conv(get(srcs[0]), w, weights[f"b{arg}"], weights[f"s{arg}"], stride, groups), act)
        elif op == "add":
            out = get(srcs[0])
            for src in srcs[1:]:
                out = out + get(src)
            out = activate(np.clip(out, -ACT_LIMIT, ACT_LIMIT), act)
        elif op == "cat":
            out = np.concatenate([get(src) for src in srcs], axis=0)
        elif op == "shuffle":
            out = shuffle(get(srcs[0]), arg)
        elif op == "act":
            out = activate(get(srcs[0]), act)
        else:
            raise SpecError(f"unknown op {op}")
        values.append(out)
    if every_output:
        return [values[i] for i in graph["outputs"]] if graph.get("outputs") else [values[-1]]
    index = graph["outputs"][0] if graph.get("outputs") else len(values) - 1
    return values[index]


class Graph:
    """Builder of the graphs of D.6 (the same node list the model file's predictor carries)."""

    def __init__(self):
        self.convs, self.nodes = [], []

    def conv(self, src, cin, cout, k, stride=1, groups=1, act="none") -> int:
        self.convs.append([cin, cout, k, stride, groups])
        self.nodes.append(["conv", [src], len(self.convs) - 1, act])
        return len(self.nodes) - 1

    def add(self, *srcs) -> int:
        self.nodes.append(["add", list(srcs), 0, "none"])
        return len(self.nodes) - 1

    def cat(self, *srcs) -> int:
        self.nodes.append(["cat", list(srcs), 0, "none"])
        return len(self.nodes) - 1

    def shuffle(self, src, r) -> int:
        self.nodes.append(["shuffle", [src], r, "none"])
        return len(self.nodes) - 1

    def act(self, src, act) -> int:
        self.nodes.append(["act", [src], 0, act])
        return len(self.nodes) - 1

    def block(self, src, w) -> int:
        n = self.conv(src, w, 2 * w, 1, act="leaky")
        n = self.conv(n, 2 * w, 2 * w, 3, groups=2 * w, act="leaky")
        n = self.conv(n, 2 * w, w, 1)
        return self.add(src, n)

    def spec(self) -> dict:
        return {"convs": self.convs, "nodes": self.nodes, "outputs": None}


def hyper_synthesis_graph(c: dict) -> dict:
    g = Graph()
    n = g.conv(-1, c["hyper_channels"], c["hyper_width"], 1, act="leaky")
    n = g.conv(n, c["hyper_width"], 4 * c["hyper_width"], 1)
    n = g.act(g.shuffle(n, 2), "leaky")
    g.conv(n, c["hyper_width"], c["hyper_width"], 3, act="leaky")
    return g.spec()


def parameter_graph(c: dict, group: int) -> dict:
    lo = sum(c["groups"][:group])
    g = Graph()
    src = g.cat(-1, -2) if group else -1
    n = g.conv(src, c["hyper_width"] + lo, c["param_width"], 1, act="leaky")
    n = g.conv(n, c["param_width"], c["param_width"], 3, groups=c["param_width"], act="leaky")
    n = g.conv(n, c["param_width"], c["param_width"], 1, act="leaky")
    g.conv(n, c["param_width"], 2 * c["groups"][group], 1)
    return g.spec()


def synthesis_graph(c: dict) -> dict:
    g = Graph()
    n = g.conv(-1, c["latent_channels"], c["width"], 3, act="leaky")
    n = g.block(n, c["width"])
    if c["down"] == 2:
        n = g.act(g.shuffle(g.conv(n, c["width"], 4 * c["width"], 1), 2), "leaky")
    n = g.block(n, c["width"])
    n = g.conv(n, c["width"], c["in_channels"], 3)
    if c.get("linear_skip", False):
        g.add(n, g.conv(-1, c["latent_channels"], c["in_channels"], 1))
    return g.spec()


# ================================================================================================ D.5 mfc

class MfcModel:
    """A model read from ``dump_weights`` output (``stem.npz`` + ``stem.json``, D.9)."""

    def __init__(self, stem):
        stem = Path(stem)
        with np.load(stem.with_suffix(".npz"), allow_pickle=False) as data:
            self.arrays = {key: data[key] for key in data.files}
        manifest = json.loads(stem.with_suffix(".json").read_text())
        self.values = manifest["values"]
        self.model_hash = int(manifest["source"]["sha256"][:8], 16)  # D.9: ps_model_hash
        if self.values["format"] != "icm-mfc-1":
            raise ModelError("not an icm-mfc-1 model")
        self.task_network = self.values["config/task_network"]
        self.input_size = self.values["config/input_size"]
        self.tensor_shapes = [tuple(s) for s in self.values["config/tensor_shapes"]]
        self.codecs = []  # in the file's order: the coding order
        i = 0
        while f"codecs/{i}/config/tensor_id" in self.values:  # D.9: codecs/0 .. codecs/N-1
            prefix = f"codecs/{i}/config/"
            self.codecs.append({k[len(prefix):]: v for k, v in self.values.items() if k.startswith(prefix)})
            i += 1
        self.prediction = ({k[len("config/prediction/"):]: v for k, v in self.values.items()
                            if k.startswith("config/prediction/")} or None)
        outputs = self.values.get("predictor/spec/outputs")
        if outputs is not None and len(outputs) != 1:
            raise ModelError("the predictor graph has more than one output")

    def sub(self, prefix: str) -> dict:
        return {k[len(prefix):]: v for k, v in self.arrays.items() if k.startswith(prefix)}

    def predictor_graph(self) -> dict:
        return {"convs": self.values["predictor/spec/convs"], "nodes": self.values["predictor/spec/nodes"],
                "outputs": self.values.get("predictor/spec/outputs")}

    def coding_mode(self, tensor_id: int) -> int:
        """D.5.1: 0 coded, 2 coded residual, 1 predicted (no codec)."""
        for c in self.codecs:
            if c["tensor_id"] == tensor_id:
                return 2 if c["residual"] else 0
        return 1

    def layout(self) -> tuple[dict, list[dict]]:
        """D.5.1: the feature header and the channel-group headers that the model implies."""
        tensors = []
        for i, (channels, height, width) in enumerate(self.tensor_shapes):
            stride = self.input_size // height
            if stride * height != self.input_size or stride * width != self.input_size or stride & (stride - 1):
                raise ModelError("the model's input size is not a tensor's height and width times one power of two")
            t = {"fh_tensor_id": i, "fh_channels": channels, "fh_height": height, "fh_width": width,
                 "fh_stride_log2": stride.bit_length() - 1, "fh_coding_mode": self.coding_mode(i),
                 "fh_range_flag": 0, "fh_packing_idc": 0}
            if t["fh_coding_mode"]:
                t["fh_reference_id"] = self.prediction["source"]
            tensors.append(t)
        headers = []
        for k, c in enumerate(self.codecs):
            gains = [int(g) for g in self.arrays[f"codecs/{k}/gains_q16"]]
            headers.append({"cg_tensor_id": c["tensor_id"], "cg_num_channels": c["latent_channels"],
                            "cg_group_size": list(c["groups"]),
                            "cg_scale": [float(np.float32(g / 65536)) for g in gains],
                            "cg_offset": [0.0] * len(gains), "cg_channel_index": None})
        return {"tensors": tensors}, headers


def prior_tables(cdf: np.ndarray, length: np.ndarray, offset: np.ndarray, where: str) -> list[tuple]:
    """The factorized-prior tables of E.8, one ``(cdf, low, 0)`` per channel; ModelError unless each channel's
    first ``cdf_length`` entries (3 to min(L, 1025)) rise strictly from 0 to 2^16."""
    tables = []
    for ch in range(cdf.shape[0]):
        size = int(length[ch])
        entries = [int(v) for v in cdf[ch, :size]] if 3 <= size <= min(cdf.shape[1], 1025) else []
        if not entries or entries[0] != 0 or entries[-1] != 1 << 16 or any(
                a >= b for a, b in zip(entries, entries[1:])):
            raise ModelError(f"{where} channel {ch}: not a table of E.8")
        tables.append((tuple(entries), int(offset[ch]), 0))
    return tables


def decode_codec(model: MfcModel, index: int, stream: dict, cg: dict, height: int, width: int,
                 max_groups: int | None = None, trace=None) -> np.ndarray:
    """D.5.3 to D.5.6: one coded latent -> its decoded tensor (fixed point, int64, C x H x W).

    ``trace(tensor_id, substream_index, table_indexes, values)`` is called for every substream decoded
    (substream 0: the hyper latent; 1 + g: group g)."""
    c = model.codecs[index]
    tensor_id, groups = c["tensor_id"], c["groups"]
    gains, offsets = [], []
    for scale in cg["cg_scale"]:
        g = scale * 65536
        if g != int(g) or not 1 <= g < 1 << 24:
            raise SpecError("cg_scale is not a multiple of 2^-16 in [2^-16, 256)")
        gains.append(int(g))
    for value in cg["cg_offset"]:
        o = value * 1024
        if o != int(o) or abs(o) > ACT_LIMIT:
            raise SpecError("cg_offset is not a multiple of 2^-10 within +-2048")
        offsets.append(int(o))
    d = c["down"]
    lh, lw = -(-height // d), -(-width // d)
    if lh % 2 or lw % 2:
        raise ModelError("the model's latent has an odd size (D.5.3)")
    hh, hw = lh // 2, lw // 2
    count = len(groups) if max_groups is None else min(max_groups, len(groups))
    for i in range(count + 1):  # D.2.4: the substreams this decode reads must be there
        substream(stream, tensor_id, i)
    # hyper latent: substream 0, factorized prior, table per channel (E.8)
    prior = model.sub(f"codecs/{index}/prior/")
    zc = c["hyper_channels"]
    medians = np.asarray(prior["_medians"])
    if prior["_quantized_cdf"].shape[0] != zc or medians.shape != (zc,) or not np.isfinite(medians).all():
        raise ModelError(f"codec {index}: prior tables of another channel count, or a median not finite (E.8)")
    tables = prior_tables(prior["_quantized_cdf"], prior["_cdf_length"], prior["_offset"], f"codec {index} prior")
    medians = medians.astype(np.float32)
    z_idx = [ch for ch in range(zc) for _ in range(hh * hw)]
    z_sym = decode_indexed(substream(stream, tensor_id, 0), z_idx, lambda t: tables[t])
    if trace:
        trace(tensor_id, 0, z_idx, z_sym)
    z_hat = (np.array(z_sym, np.int64).astype(np.float32).reshape(zc, hh, hw) + medians[:, None, None])
    z_fixed = np.clip(np.round(z_hat.astype(np.float64) * 1024.0), -ACT_LIMIT, ACT_LIMIT).astype(np.int64)
    hyper = run_graph(hyper_synthesis_graph(c), model.sub(f"codecs/{index}/h_s/"), [z_fixed])
    if hyper.shape[1:] != (lh, lw):
        raise ModelError("hyper synthesis does not match the latent size")
    decoded = []
    for g, size in enumerate(groups):
        inputs = [hyper, np.concatenate(decoded, axis=0)] if g else [hyper]
        out = run_graph(parameter_graph(c, g), model.sub(f"codecs/{index}/e/{g}/"), inputs)
        mean, scale = out[:size], out[size:]
        if g >= count:  # D.5.7: substream 1 + g is not read
            decoded.append(mean)
            continue
        idx = [scale_index(int(q)) for q in scale.reshape(-1)]
        sym = decode_indexed(substream(stream, tensor_id, 1 + g), idx, gaussian_table)
        if trace:
            trace(tensor_id, 1 + g, idx, sym)
        v = np.array(sym, np.int64).reshape(mean.shape) * 1024 + mean
        decoded.append(np.clip(v, -ACT_LIMIT, ACT_LIMIT))
    parts = []
    for v, gain, offset in zip(decoded, gains, offsets):
        y = (2 * v * 65536 + gain) // (2 * gain) + offset
        parts.append(np.clip(y, -ACT_LIMIT, ACT_LIMIT))
    return run_graph(synthesis_graph(c), model.sub(f"codecs/{index}/g_s/"), [np.concatenate(parts, axis=0)])


MFC_FAMILIES = {0: ("mfc_q{q}", range(1, 8)), 10: ("mfc-noxs_q{q}", range(2, 6)),
                20: ("mfc-nogroup_q{q}", range(2, 6)), 30: ("mfc-short_q{q}", range(2, 6))}  # D.5.1


def mfc_model_name(model_id: int) -> str:
    """D.5.1: the model that ``ps_model_id`` names; an id that names none is a model the decoder does not have."""
    family, quality = MFC_FAMILIES.get(model_id // 10 * 10), model_id % 10
    if family is None or quality not in family[1]:
        raise ModelError(f"ps_model_id {model_id} names no mfc model")
    return family[0].format(q=quality)


def mfc_headers(stream: dict, model: MfcModel) -> tuple[dict, dict]:
    """D.5.1: the headers in use (the model's when ``ps_model_layout_flag`` is 1, else the stream's), checked
    against the model; (feature header, channel-group headers by cg_tensor_id)."""
    ps = stream["ps"]
    if ps["ps_model_layout_flag"]:
        fh, cgs = model.layout()
    else:
        fh, cgs = stream["fh"], stream["cg"]
    if fh is None:
        raise SpecError("mfc: no feature header")
    networks = {1: "yolo-fastest-1.1-xl", 2: "yolo-fastest-1.1"}
    if networks.get(ps["ps_task_network_id"]) != model.task_network or (
            ps["ps_task_input_width"], ps["ps_task_input_height"]) != (model.input_size, model.input_size):
        raise SpecError("mfc: task network or task input size differs from the model's")
    tensors = fh["tensors"]
    if [t["fh_tensor_id"] for t in tensors] != list(range(len(model.tensor_shapes))):
        raise SpecError("mfc: the feature header does not list the model's tensors in order")
    for t, shape in zip(tensors, model.tensor_shapes):
        if (t["fh_channels"], t["fh_height"], t["fh_width"]) != shape or t["fh_range_flag"] or t["fh_packing_idc"]:
            raise SpecError(f"mfc: tensor {t['fh_tensor_id']} differs from the model's")
        mode = model.coding_mode(t["fh_tensor_id"])
        if t["fh_coding_mode"] != mode or (mode and t["fh_reference_id"] != model.prediction["source"]):
            raise SpecError(f"mfc: tensor {t['fh_tensor_id']}'s coding mode or reference differs from the model's")
    if any(pl["pl_type"] != 0 for pl in stream["pl"].values()):
        raise SpecError("mfc: a payload of pl_type 1")
    headers = {cg["cg_tensor_id"]: cg for cg in cgs}
    if len(headers) != len(cgs):
        raise SpecError("mfc: two channel-group headers for one tensor")
    for c in model.codecs:
        cg = headers.get(c["tensor_id"])
        if cg is None:
            raise SpecError(f"mfc: no channel-group header for tensor {c['tensor_id']}")
        if cg["cg_group_size"] != list(c["groups"]) or cg["cg_channel_index"] is not None:
            raise SpecError("mfc: group layout differs from the model's")
    return fh, headers


def decode_mfc(stream: dict, model: MfcModel, max_groups: int | None = None, trace=None) -> list[np.ndarray]:
    """D.5: the decoded tensors (float32, C x H x W) in feature-header order."""
    ps = stream["ps"]
    if not ps["ps_model_id"]:
        raise SpecError("mfc: ps_model_id 0")
    if ps["ps_inner_codec_id"] or ps["ps_resampling_flag"]:
        raise SpecError("mfc: ps_inner_codec_id or ps_resampling_flag not 0 (D.2.7)")
    if model is None or ps["ps_model_hash"] != model.model_hash:
        raise ModelError("no model file with the stream's ps_model_hash")
    model.layout()  # D.5.1, D.9: a model whose tensors do not fit its input size is not valid
    fh, headers = mfc_headers(stream, model)
    decoded = {}
    graph, weights = (model.predictor_graph(), model.sub("predictor/exact/")) if model.prediction else (None, None)

    def predict(a: np.ndarray) -> np.ndarray:
        if graph is None:
            raise SpecError("the model has no predictor")
        return run_graph(graph, weights, [a])

    for index, c in enumerate(model.codecs):  # the coding order: residual codecs last
        tid = c["tensor_id"]
        h, w = model.tensor_shapes[tid][1:]
        x = decode_codec(model, index, stream, headers[tid], h, w, max_groups, trace)
        if c["residual"]:
            x = np.clip(predict(decoded[model.prediction["source"]]) + x, -ACT_LIMIT, ACT_LIMIT)
        decoded[tid] = x
    for t in fh["tensors"]:
        if t["fh_coding_mode"] == 1:
            decoded[t["fh_tensor_id"]] = predict(decoded[t["fh_reference_id"]])
    return [(decoded[t["fh_tensor_id"]].astype(np.float64) / 1024.0).astype(np.float32) for t in fh["tensors"]]


# ================================================================================================ D.11 ci-icm

CI_ICM_FORMAT = "icm-ci-icm-1"
CI_ICM_FAMILIES = {0: "ci-icm.npz", 10: "ci-icm-short.npz", 20: "ci-icm-baseline.npz", 30: "ci-icm-noorder.npz",
                   40: "ci-icm-nogain.npz", 50: "ci-icm-noctx.npz"}  # D.11.1: id base -> file
CI_ICM_QUALITIES = range(1, 7)
ACTIVATIONS = ("none", "relu", "leaky")  # D.6.2


def ci_icm_model_name(model_id: int) -> tuple[str, int]:
    """D.11.1: (file name, quality ``Q``) that ``ps_model_id`` names; an id that names none (0 included: the
    caller refuses 0 first, exit status 4) is a model the decoder does not have."""
    name, quality = CI_ICM_FAMILIES.get(model_id // 10 * 10), model_id % 10
    if name is None or quality not in CI_ICM_QUALITIES:
        raise ModelError(f"ps_model_id {model_id} names no ci-icm model")
    return name, quality


def adapter_key(name: str) -> str:
    """D.11.7: the graph ``adapter.KEY`` of the task network ``name``."""
    return "adapter." + name.replace(".", "_").replace("-", "_")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def graph_shapes(graph, weights: dict, inputs: list[tuple[int, int, int]], label: str) -> list[tuple[int, ...]]:
    """D.6.2, D.6.3, D.12: checks a graph of a model file (its nodes, every convolution's weights against its
    shape and D.6.1) and returns the shapes of its outputs (the ``outputs`` nodes, or the last node) for inputs
    of the shapes ``inputs``; a graph that does not hold together is not a valid model file."""
    def bad(why: str):
        raise ModelError(f"{label}: {why} (D.12)")

    if not isinstance(graph, dict) or not isinstance(graph.get("convs"), list) or not isinstance(
            graph.get("nodes"), list) or not graph["nodes"]:
        bad("not a graph")
    convs = graph["convs"]
    for k, spec in enumerate(convs):
        if not (isinstance(spec, list) and len(spec) == 5 and all(_is_int(v) for v in spec)):
            bad(f"convolution {k} is not [cin, cout, kernel, stride, groups]")
        cin, cout, kernel, stride, groups = spec
        if min(spec) < 1 or cin % groups or cout % groups:
            bad(f"convolution {k} {spec}")
        for key, dtype, shape in ((f"w{k}", np.int16, (cout, cin // groups, kernel, kernel)),
                                  (f"b{k}", np.int64, (cout,)), (f"s{k}", np.int8, (cout,))):
            array = weights.get(key)
            if array is None or array.dtype != dtype or array.shape != shape:
                bad(f"{key} missing or not {np.dtype(dtype).name} {shape}")
        check_bound(weights[f"w{k}"], weights[f"b{k}"], weights[f"s{k}"], k)  # D.6.1
    shapes: list[tuple[int, int, int]] = []
    for n, node in enumerate(graph["nodes"]):
        if not (isinstance(node, list) and len(node) == 4 and isinstance(node[1], list) and node[1]
                and all(_is_int(i) for i in node[1]) and isinstance(node[3], str)):
            bad(f"node {n} is not [op, sources, arg, act]")
        op, srcs, arg, act = node
        if any(i >= n or i < -len(inputs) for i in srcs):
            bad(f"node {n} reads a source it does not have")
        src = [inputs[-1 - i] if i < 0 else shapes[i] for i in srcs]
        if op in ("conv", "add", "act") and act not in ACTIVATIONS:
            bad(f"node {n}: activation {act!r}")
        if op == "conv":
            if len(src) != 1 or not _is_int(arg) or not 0 <= arg < len(convs):
                bad(f"node {n}: convolution {arg!r}")
            cin, cout, kernel, stride, _ = convs[arg]
            c, h, w = src[0]
            p = kernel // 2
            ho, wo = (h + 2 * p - kernel) // stride + 1, (w + 2 * p - kernel) // stride + 1
            if c != cin or ho < 1 or wo < 1:
                bad(f"node {n}: convolution {arg} on a {src[0]} input")
            shapes.append((cout, ho, wo))
        elif op == "add":
            if any(s != src[0] for s in src):
                bad(f"node {n}: add of shapes {src}")
            shapes.append(src[0])
        elif op == "cat":
            if any(s[1:] != src[0][1:] for s in src):
                bad(f"node {n}: cat of shapes {src}")
            shapes.append((sum(s[0] for s in src),) + src[0][1:])
        elif op == "shuffle":
            c, h, w = src[0]
            if len(src) != 1 or not _is_int(arg) or arg < 1 or c % (arg * arg):
                bad(f"node {n}: shuffle {arg!r} of {src[0]}")
            shapes.append((c // (arg * arg), h * arg, w * arg))
        elif op == "act":
            if len(src) != 1:
                bad(f"node {n}: act of several sources")
            shapes.append(src[0])
        else:
            bad(f"node {n}: unknown op {op!r}")
    outputs = graph.get("outputs")
    if outputs is None:
        return [shapes[-1]]
    if not isinstance(outputs, list) or not outputs or any(
            not _is_int(i) or not 0 <= i < len(shapes) for i in outputs):
        bad(f"outputs {outputs!r}")
    return [shapes[i] for i in outputs]


class CiIcmModel:
    """A ``ci-icm`` weights file (D.12), read with ``numpy.load(path, allow_pickle=False)`` and checked: a file that
    is missing or not a valid model file raises ``ModelError`` (exit status 7)."""

    def __init__(self, path):
        self.path = Path(path)
        self.name = self.path.name
        if not self.path.is_file():
            raise ModelError(f"no ci-icm model file {self.path}")
        self.model_hash = int.from_bytes(hashlib.sha256(self.path.read_bytes()).digest()[:4], "big")  # D.2.5
        try:
            with np.load(self.path, allow_pickle=False) as data:
                self.arrays = {key: data[key] for key in data.files}
        except Exception as exc:  # not a numpy zip, or an array that needs pickle
            raise ModelError(f"{self.name}: not a numpy zip of arrays ({exc})") from exc
        self._validate()

    def _text(self, key: str):
        array = self.arrays.get(key)
        if array is None or array.shape != () or array.dtype.kind != "U":
            raise ModelError(f"{self.name}: {key} is not a 0-d string (D.12)")
        return str(array)

    def _json(self, key: str):
        try:
            return json.loads(self._text(key))
        except ValueError as exc:
            raise ModelError(f"{self.name}: {key} is not JSON (D.12)") from exc

    def _array(self, key: str, dtype, shape: tuple | None = None, ndim: int | None = None) -> np.ndarray:
        array = self.arrays.get(key)
        if array is None or array.dtype != dtype or (shape is not None and array.shape != shape) or (
                ndim is not None and array.ndim != ndim):
            raise ModelError(f"{self.name}: {key} missing or not {np.dtype(dtype).name} {shape or ''} (D.12)")
        return array

    def sub(self, graph: str) -> dict:
        """The weights of graph ``graph`` (``graph.w0`` -> ``w0``, D.12)."""
        prefix = graph + "."
        return {k[len(prefix):]: v for k, v in self.arrays.items()
                if k.startswith(prefix) and k[len(prefix):][:1] in ("w", "b", "s") and k[len(prefix) + 1:].isdigit()}

    def _validate(self) -> None:
        """D.12, "Valid model files"."""
        def bad(why: str):
            raise ModelError(f"{self.name}: {why} (D.12)")

        if self._text("format") != CI_ICM_FORMAT:
            bad("format is not icm-ci-icm-1")
        config, specs = self._json("config"), self._json("specs")
        self._text("info")  # informative, but listed
        if not isinstance(config, dict) or not isinstance(specs, dict):
            bad("config or specs is not a JSON object")
        self.config, self.specs = config, specs
        s, n, groups = config.get("input_size"), config.get("latent_channels"), config.get("groups")
        c, width, q = config.get("hyper_channels"), config.get("hyper_width"), config.get("qualities")
        if not all(_is_int(v) and v >= 1 for v in (s, n, c, width, q)) or s % 64:
            bad("input_size, latent_channels, hyper_channels, hyper_width or qualities")
        if not isinstance(groups, list) or not groups or not all(_is_int(g) and g >= 1 for g in groups) or \
                sum(groups) != n:
            bad("the groups are not positive sizes that add up to latent_channels")
        if not 1 <= q <= 6 or not isinstance(config.get("context"), bool):
            bad("qualities not in 1..6, or context not a boolean")
        networks = config.get("task_networks")
        if not isinstance(networks, list) or not all(isinstance(t, str) for t in networks):
            bad("task_networks is not a list of names")
        self.input_size, self.latent_channels, self.groups = s, n, list(groups)
        self.hyper_channels, self.hyper_width, self.qualities = c, width, q
        self.context, self.task_networks = config["context"], list(networks)
        big_g = len(groups)
        self.gains_q16 = self._array("gains_q16", np.int64, (q, big_g))
        self.hyper_gains_q16 = self._array("hyper_gains_q16", np.int64, (q,))
        for gains in (self.gains_q16, self.hyper_gains_q16):
            if gains.min() < 1 or gains.max() >= 1 << 24:
                bad("a gain outside [1, 2^24)")
        if [int(v) for v in self._array("gaussian.scale_table_q16", np.int64, (64,))] != list(SCALES_Q16):
            bad("gaussian.scale_table_q16 is not E.5.1's")
        self.priors = []
        for row in range(q):
            cdf = self._array(f"prior{row}.quantized_cdf", np.int32, ndim=2)
            length = self._array(f"prior{row}.cdf_length", np.int32, (c,))
            offset = self._array(f"prior{row}.offset", np.int32, (c,))
            medians = self._array(f"prior{row}.medians", np.float32, (c,))
            if cdf.shape[0] != c or not np.isfinite(medians).all():
                bad(f"prior{row}: tables of another channel count, or a median not finite")
            self.priors.append((prior_tables(cdf, length, offset, f"prior{row}"), medians))
        hs, lat = s // 16, s // 64
        expected = ["h_s", "g_s"] + [f"e{g}" for g in range(big_g)] + [adapter_key(t) for t in networks]
        if set(specs) != set(expected + ["g_a", "h_a"]):
            bad("specs lacks a graph, or holds one that is not the model's")
        for key in ("g_a", "h_a"):  # encoder-only, not run here; their float16 arrays exist (D.12's table)
            convs = specs[key].get("convs") if isinstance(specs[key], dict) else None
            if not isinstance(convs, list) or not all(
                    isinstance(c, list) and len(c) == 5 and all(_is_int(v) and v >= 1 for v in c) for c in convs):
                bad(f"{key} is not a graph")
            for k, (cin, cout, kernel, _, conv_groups) in enumerate(convs):
                self._array(f"{key}.w{k}", np.float16, (cout, cin // conv_groups, kernel, kernel))
                self._array(f"{key}.b{k}", np.float16, (cout,))
        if graph_shapes(specs["h_s"], self.sub("h_s"), [(c, lat, lat)], "h_s") != [(width, hs, hs)]:
            bad("h_s does not map C x S/64 x S/64 to hyper_width x S/16 x S/16")
        for g, size in enumerate(groups):
            inputs = [(width, hs, hs)] + ([(sum(groups[:g]), hs, hs)] if self.context and g else [])
            if graph_shapes(specs[f"e{g}"], self.sub(f"e{g}"), inputs, f"e{g}") != [(2 * size, hs, hs)]:
                bad(f"e{g} does not give 2 n_g channels at S/16 x S/16")
        out = graph_shapes(specs["g_s"], self.sub("g_s"), [(n, hs, hs)], "g_s")
        if specs["g_s"].get("outputs") is None or len(out) != 2 or out[1] != (3, s, s):
            bad("g_s does not have the two outputs f and a 3 x S x S picture")
        self.f_shape = out[0]
        for t in networks:
            key = adapter_key(t)
            if graph_shapes(specs[key], self.sub(key), [self.f_shape, (3, s, s)], key) != [(3, s, s)]:
                bad(f"{key} does not map (f, rgb) to 3 x S x S")
        for key in ["h_s"] + [f"e{g}" for g in range(big_g)] + [adapter_key(t) for t in networks]:
            outputs = specs[key].get("outputs")
            if outputs is not None and len(outputs) != 1:
                bad(f"{key} has more than one output (D.6.2)")

    def layout(self, quality: int) -> dict:
        """D.11.1: the channel-group header the model implies at quality ``quality`` (1-based)."""
        gains = [int(v) for v in self.gains_q16[quality - 1]]
        return {"cg_tensor_id": 0, "cg_num_channels": self.latent_channels, "cg_group_size": list(self.groups),
                "cg_scale": [float(np.float32(g / 65536)) for g in gains], "cg_offset_flag": 0,
                "cg_offset": [0.0] * len(gains), "cg_channel_index": None}


def load_ci_icm_model(folders, model_id: int) -> CiIcmModel:
    """D.11.1: the model file that ``ps_model_id`` names, from the first of ``folders`` (one folder or a list)
    that has it; ``ModelError`` when the id names none or no folder has the file."""
    name, _ = ci_icm_model_name(model_id)
    for folder in [folders] if isinstance(folders, (str, os.PathLike)) else list(folders or []):
        if (Path(folder) / name).is_file():
            return CiIcmModel(Path(folder) / name)
    raise ModelError(f"no ci-icm model file {name}")


def ci_icm_header(stream: dict, model: CiIcmModel, quality: int) -> dict:
    """D.11.1: the channel-group header in use (implied when ``ps_model_layout_flag`` = 1), checked."""
    if stream["ps"]["ps_model_layout_flag"]:
        cgs = [model.layout(quality)]
    else:
        cgs = stream["cg"]
    if len(cgs) != 1:
        raise SpecError("ci-icm: not exactly one channel-group header")
    (cg,) = cgs
    if cg["cg_tensor_id"] != 0 or cg["cg_group_size"] != model.groups or cg["cg_offset_flag"] or \
            cg["cg_channel_index"] is not None:
        raise SpecError("ci-icm: the channel-group header is not the model's layout (D.11.1)")
    if [scale * 65536 for scale in cg["cg_scale"]] != [int(v) for v in model.gains_q16[quality - 1]]:
        raise SpecError("ci-icm: gains that differ from the model's (D.11.1)")
    return cg


def ci_icm_pixels(rgb: np.ndarray) -> np.ndarray:
    """D.11.4: a fixed-point 3 x S x S picture -> 8-bit S x S x 3."""
    return np.clip((rgb.transpose(1, 2, 0) * 255 + (1 << 9)) >> 10, 0, 255).astype(np.uint8)


def gain_round(v: np.ndarray, gain: int) -> np.ndarray:
    """``sat(round(v * 2^16 / gain))``, halves up (D.11.2, D.11.3)."""
    return np.clip((2 * 65536 * v + gain) // (2 * gain), -ACT_LIMIT, ACT_LIMIT)


def scale_indexes(q: np.ndarray) -> list[int]:
    """E.5.4 for every value of ``q`` (raster order): the number of ``S_j * 2^10 < max(q, 0) * 2^16``, at most
    63 (``scale_index`` vectorised)."""
    edges = np.array(SCALES_Q16, np.int64) << 10
    return np.minimum(np.searchsorted(edges, np.maximum(q.reshape(-1), 0) << 16, side="left"), 63).tolist()


def decode_ci_icm(stream: dict, model: CiIcmModel | None, max_groups: int | None = None,
                  task_network: str | None = None, trace=None) -> tuple[np.ndarray, np.ndarray | None]:
    """D.11: (the output picture P resized, ``ps_picture_height x ps_picture_width x 3``; the picture adapted for
    ``task_network``, resized, or None). ``trace(substream_index, table_indexes, values)`` sees every substream
    read."""
    ps = stream["ps"]
    if not ps["ps_model_id"]:
        raise SpecError("ci-icm: ps_model_id 0 (D.11.1)")
    name, quality = ci_icm_model_name(ps["ps_model_id"])
    if model is None or model.name != name:
        raise ModelError(f"ci-icm: no model file {name}")
    if ps["ps_model_hash"] != model.model_hash:
        raise ModelError(f"ci-icm: {name} does not have the stream's ps_model_hash")
    if quality > model.qualities:
        raise ModelError(f"ci-icm: quality {quality} above the model's {model.qualities}")
    s, groups = model.input_size, model.groups
    if ps["ps_inner_codec_id"] or stream["fh"] is not None:
        raise SpecError("ci-icm: an inner codec or a feature header (D.11.1)")
    if not ps["ps_resampling_flag"] or (ps["ps_coded_width"], ps["ps_coded_height"]) != (s, s):
        raise SpecError(f"ci-icm: the coded size is not the model's {s} x {s} (D.11.1)")
    if any(pl["pl_type"] != 0 for pl in stream["pl"].values()):
        raise SpecError("ci-icm: a payload of pl_type 1")
    ci_icm_header(stream, model, quality)
    if task_network is not None and task_network not in model.task_networks:
        raise ValueError(f"the model has no adapter for {task_network!r} (a usage error, D.11.7)")
    count = len(groups) if max_groups is None else min(max_groups, len(groups))
    for i in range(count + 1):  # D.2.4: the substreams this decode reads must be there
        substream(stream, 0, i)
    q = quality - 1
    # D.11.2 the hyper latent
    hz = s // 64
    tables, medians = model.priors[q]
    t = [ch for ch in range(model.hyper_channels) for _ in range(hz * hz)]
    v = decode_indexed(substream(stream, 0, 0), t, lambda ch: tables[ch])
    if trace:
        trace(0, t, v)
    z_hat = np.array(v, np.int64).astype(np.float32).reshape(-1, hz, hz) + medians[:, None, None]  # binary32
    a = np.clip(np.round(z_hat.astype(np.float64) * 1024.0), -ACT_LIMIT, ACT_LIMIT).astype(np.int64)  # half even
    hyper = run_graph(model.specs["h_s"], model.sub("h_s"), [gain_round(a, int(model.hyper_gains_q16[q]))])
    # D.11.3 the channel groups
    units = []
    for g, size in enumerate(groups):
        gain = int(model.gains_q16[q][g])
        inputs = [hyper, np.concatenate(units, axis=0)] if model.context and g else [hyper]
        out = run_graph(model.specs[f"e{g}"], model.sub(f"e{g}"), inputs)
        mean = np.clip((2 * out[:size] * gain + (1 << 16)) >> 17, -ACT_LIMIT, ACT_LIMIT)
        scale = np.clip((2 * out[size:] * gain + (1 << 16)) >> 17, -ACT_LIMIT, ACT_LIMIT)
        if g < count:
            idx = scale_indexes(scale)
            sym = decode_indexed(substream(stream, 0, 1 + g), idx, gaussian_table)
            if trace:
                trace(1 + g, idx, sym)
            value = np.clip(np.array(sym, np.int64).reshape(mean.shape) * 1024 + mean, -ACT_LIMIT, ACT_LIMIT)
        else:  # D.11.6: substream 1 + g is not read
            value = mean
        units.append(gain_round(value, gain))
    # D.11.4 synthesis, D.11.5 output size, D.11.7 adapters
    f, rgb = run_graph(model.specs["g_s"], model.sub("g_s"), [np.concatenate(units, axis=0)], every_output=True)
    width, height = ps["ps_picture_width"], ps["ps_picture_height"]
    kernel = {0: "bicubic", 1: "bilinear"}[ps["ps_resampling_filter_idc"]]
    picture = resample_rgb(ci_icm_pixels(rgb), width, height, kernel)
    adapted = None
    if task_network is not None:
        key = adapter_key(task_network)
        adapted = resample_rgb(ci_icm_pixels(run_graph(model.specs[key], model.sub(key), [f, rgb])),
                               width, height, kernel)
    return picture, adapted


# ================================================================================================ D.3, D.4 VVC tools

def check_vvc_stream(stream: dict) -> None:
    """D.2.7: the VVC tools name no model (npp-vvc's model is informative, D.3.7) and have no channel-group
    header."""
    if (stream["ps"]["ps_model_id"] and stream["ps"]["ps_tool_id"] != 4) or stream["cg"]:
        raise SpecError("a VVC tool's stream with a model id or a channel-group header (D.2.7)")


def padded_size(width: int, height: int) -> tuple[int, int]:
    return max(32, -(-width // 8) * 8), max(32, -(-height // 8) * 8)


def decode_vvc(data: bytes, width: int, height: int, ffmpeg: str) -> tuple[np.ndarray, ...]:
    """Any conforming VVC decoder; here ffmpeg's. Returns the cropped (y, u, v) 10-bit planes."""
    pw, ph = padded_size(width, height)
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "out.y4m")
        done = subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-xerror", "-f", "vvc",
                               "-i", "-", "-frames:v", "2", "-strict", "-1", "-f", "yuv4mpegpipe", "-y", out],
                              input=data, capture_output=True, timeout=120)
        raw = Path(out).read_bytes() if done.returncode == 0 and os.path.exists(out) else b""
    if not raw.startswith(b"YUV4MPEG2"):
        raise SpecError("the VVC payload does not decode to a picture (D.3.2)")
    header, rest = raw.split(b"\n", 1)
    fields = {f[:1]: f[1:] for f in header.split()[1:]}
    if (int(fields[b"W"]), int(fields[b"H"])) != (pw, ph) or not fields.get(b"C", b"").startswith(b"420p10"):
        raise SpecError("the VVC picture is not PW x PH 4:2:0 10 bit (D.3.2)")
    frame_bytes = 2 * (pw * ph + 2 * (pw // 2) * (ph // 2))
    frame_header = rest.split(b"\n", 1)[0]
    if len(rest) != len(frame_header) + 1 + frame_bytes:
        raise SpecError("the VVC payload does not decode to exactly one picture (D.3.2)")
    frame = rest.split(b"\n", 1)[1]
    samples = np.frombuffer(frame[:2 * (pw * ph + 2 * (pw // 2) * (ph // 2))], "<u2").astype(np.int64)
    y = samples[:pw * ph].reshape(ph, pw)
    u = samples[pw * ph:pw * ph + (pw // 2) * (ph // 2)].reshape(ph // 2, pw // 2)
    v = samples[pw * ph + (pw // 2) * (ph // 2):].reshape(ph // 2, pw // 2)
    ch, cw = (height + 1) // 2, (width + 1) // 2
    return y[:height, :width], u[:ch, :cw], v[:ch, :cw]


# D.3.2 the inverse colour conversion (10-bit tables, rows R, G, B over Y, Cb, Cr)
INVERSE_10BIT = {  # (matrix idc, full range) -> (rows, y_off, c_off)
    (1, 0): (((19077, 0, 26149), (19077, -6419, -13320), (19077, 33050, 0)), 64, 512),
    (1, 1): (((16336, 0, 22903), (16336, -5622, -11666), (16336, 28947, 0)), 0, 512),
    (2, 0): (((19077, 0, 29372), (19077, -3494, -8731), (19077, 34610, 0)), 64, 512),
    (2, 1): (((16336, 0, 25726), (16336, -3060, -7647), (16336, 30313, 0)), 0, 512),
}


def upsample_chroma16(c: np.ndarray, height: int, width: int) -> np.ndarray:
    """D.3.1: [1 3 3 1] per axis, edges replicated, result at scale 16, cropped to height x width."""
    def axis(p: np.ndarray, ax: int) -> np.ndarray:
        n = p.shape[ax]
        prev = np.take(p, [max(i - 1, 0) for i in range(n)], axis=ax)
        nxt = np.take(p, [min(i + 1, n - 1) for i in range(n)], axis=ax)
        out = np.stack([3 * p + prev, 3 * p + nxt], axis=ax + 1)
        shape = list(p.shape)
        shape[ax] = 2 * n
        return out.reshape(shape)
    return axis(axis(c, 0), 1)[:height, :width]


def yuv_to_rgb(y, u, v, matrix_idc: int, full_range: int) -> np.ndarray:
    rows, y_off, c_off = INVERSE_10BIT[(matrix_idc, full_range)]
    height, width = y.shape
    cb = upsample_chroma16(u, height, width) - 16 * c_off
    cr = upsample_chroma16(v, height, width) - 16 * c_off
    rgb = np.empty((height, width, 3), np.uint8)
    for ch in range(3):
        value = (y - y_off) * rows[ch][0] * 16 + rows[ch][1] * cb + rows[ch][2] * cr + (1 << 19)
        rgb[:, :, ch] = np.clip(value >> 20, 0, 255)
    return rgb


# D.3.3 the resampler
def _kernel(name: str):
    if name == "bicubic":
        def f(x):
            a = -0.5
            x = -x if x < 0.0 else x
            if x < 1.0:
                return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
            if x < 2.0:
                return (((x - 5) * x + 8) * x - 4) * a
            return 0.0
        return f, 2.0

    def g(x):
        x = -x if x < 0.0 else x
        return 1.0 - x if x < 1.0 else 0.0
    return g, 1.0


def resample_taps(n_in: int, n_out: int, name: str) -> list[tuple[int, list[int]]]:
    """D.3.3: per output sample (first input index, integer taps at scale 2**22); IEEE double, in this order."""
    kernel, support0 = _kernel(name)
    scale = float(n_in) / n_out
    filterscale = max(scale, 1.0)
    support = support0 * filterscale
    ss = 1.0 / filterscale
    taps = []
    for xx in range(n_out):
        center = 0.0 + (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), n_in) - xmin
        k = [kernel((x + xmin - center + 0.5) * ss) for x in range(xmax)]
        ww = 0.0
        for value in k:
            ww += value
        if ww != 0.0:
            k = [value / ww for value in k]
        taps.append((xmin, [int(-0.5 + t * 4194304) if t < 0 else int(0.5 + t * 4194304) for t in k]))
    return taps


def resample_axis(img: np.ndarray, n_out: int, name: str, axis: int) -> np.ndarray:
    moved = np.moveaxis(img.astype(np.int64), axis, 0)
    out = np.empty((n_out,) + moved.shape[1:], np.int64)
    for xx, (xmin, taps) in enumerate(resample_taps(moved.shape[0], n_out, name)):
        acc = np.full(moved.shape[1:], 1 << 21, np.int64)
        for x, t in enumerate(taps):
            acc += moved[xmin + x] * t
        out[xx] = np.clip(acc >> 22, 0, 255)
    return np.moveaxis(out, 0, axis).astype(np.uint8)


def resample_rgb(rgb: np.ndarray, width: int, height: int, name: str) -> np.ndarray:
    if rgb.shape[1] != width:
        rgb = resample_axis(rgb, width, name, 1)
    if rgb.shape[0] != height:
        rgb = resample_axis(rgb, height, name, 0)
    return rgb


def decode_vvc_image(stream: dict, ffmpeg: str) -> np.ndarray:
    """D.3: the picture, height x width x 3, uint8 (of a vvc-image or an npp-vvc stream, D.3.7)."""
    ps = stream["ps"]
    check_vvc_stream(stream)
    if stream["fh"] is not None:
        raise SpecError("vvc-image: a feature header (D.3.1)")
    if (ps["ps_inner_codec_id"] != 1 or ps["ps_chroma_format_idc"] != 1 or ps["ps_coded_bit_depth_minus8"] != 2
            or ps["ps_colour_matrix_idc"] not in (1, 2)
            or (ps["ps_resampling_flag"] and ps["ps_resampling_filter_idc"] not in (0, 1))):
        raise SpecError("vvc-image: not a 4:2:0 10-bit VVC picture in BT.601 or BT.709 (D.3.1)")
    width, height = ps["ps_picture_width"], ps["ps_picture_height"]
    cw, ch = (ps["ps_coded_width"], ps["ps_coded_height"]) if ps["ps_resampling_flag"] else (width, height)
    y, u, v = decode_vvc(inner_payload(stream, 0), cw, ch, ffmpeg)
    rgb = yuv_to_rgb(y, u, v, ps["ps_colour_matrix_idc"], ps["ps_full_range_flag"])
    if ps["ps_resampling_flag"]:
        rgb = resample_rgb(rgb, width, height, {0: "bicubic", 1: "bilinear"}[ps["ps_resampling_filter_idc"]])
    return rgb


def dequantise(samples: np.ndarray, low: float, high: float, bit_depth: int) -> np.ndarray:
    """D.4.3: x = fl32(fl32(s * step) + min), step = fl32(span / fl32(2^b - 1)); no fused multiply-add."""
    low32, high32 = np.float32(low), np.float32(high)
    span = np.float32(high32 - low32) if high32 > low32 else np.float32(0.0)
    step = np.float32(span / np.float32((1 << bit_depth) - 1))
    product = np.multiply(samples.astype(np.float32), step, dtype=np.float32)
    return np.add(product, low32, dtype=np.float32)


def decode_vvc_feature(stream: dict, ffmpeg: str) -> list[np.ndarray]:
    """D.4: the tensors (float32, C x H x W) in feature-header order."""
    ps, fh = stream["ps"], stream["fh"]
    check_vvc_stream(stream)
    if ps["ps_inner_codec_id"] != 1 or fh is None or ps["ps_resampling_flag"]:
        raise SpecError("vvc-feature: no VVC, no feature header, or resampling (D.4.1)")
    out = []
    for t in fh["tensors"]:
        if t["fh_coding_mode"] or not t["fh_range_flag"] or t["fh_packing_idc"] != 1:
            raise SpecError("vvc-feature tensors are coded, range-normalised and tiled (D.4.1)")
        if t["fh_tile_columns"] > t["fh_channels"] or t["fh_quant_bit_depth_minus1"] + 1 != (
                ps["ps_coded_bit_depth_minus8"] + 8) or t["fh_quant_bit_depth_minus1"] + 1 != 10:
            raise SpecError("vvc-feature: tile columns, or a bit depth other than 10 (D.4.1)")
        c, h, w, cols = t["fh_channels"], t["fh_height"], t["fh_width"], t["fh_tile_columns"]
        rows = -(-c // cols)
        y, _, _ = decode_vvc(inner_payload(stream, t["fh_tensor_id"]), cols * w, rows * h, ffmpeg)
        tiles = y.reshape(rows, h, cols, w).transpose(0, 2, 1, 3).reshape(rows * cols, h, w)[:c]
        out.append(dequantise(tiles, t["fh_min_value"], t["fh_max_value"], t["fh_quant_bit_depth_minus1"] + 1))
    return out


# ================================================================================================ D.7 the hash

def canonical_bytes(output, stream: dict) -> bytes:
    """D.7: the picture's samples, or the tensors' float32 little-endian values then the geometry record."""
    if isinstance(output, np.ndarray):
        return np.ascontiguousarray(output, np.uint8).tobytes()
    ps = stream["ps"]
    parts = [np.ascontiguousarray(tensor, "<f4").tobytes() for tensor in output]
    parts.append(struct.pack("<4I", ps["ps_picture_width"], ps["ps_picture_height"], ps["ps_task_input_width"],
                             ps["ps_task_input_height"]))
    return b"".join(parts)


@lru_cache(maxsize=1)
def _crc_table() -> tuple[int, ...]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


def crc32(data: bytes) -> int:
    """D.7: CRC-32/ISO-HDLC (reflected polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF)."""
    table, c = _crc_table(), 0xFFFFFFFF
    for byte in data:
        c = table[(c ^ byte) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def output_hash(output, stream: dict, hash_type: int) -> bytes:
    """D.7: ``dh_hash`` of ``output``: MD5 (type 0, 16 bytes) or CRC-32 (type 1, 4 bytes big-endian)."""
    data = canonical_bytes(output, stream)
    if hash_type == 0:
        return hashlib.md5(data).digest()
    if hash_type == 1:
        return crc32(data).to_bytes(4, "big")
    raise SpecError(f"dh_hash_type {hash_type}")


def output_md5(output, stream: dict) -> str:
    """The MD5 of the canonical byte string, as the conformance suite records it."""
    return output_hash(output, stream, 0).hex()


def check_hash(output, stream: dict) -> None:
    """D.7: the output against the stream's hash unit (full decodes only)."""
    dh = stream["dh"]
    if dh["dh_output_type"] != (0 if isinstance(output, np.ndarray) else 1):
        raise SpecError("dh_output_type is not the tool's output type")  # checked before (D.2.6)
    if output_hash(output, stream, dh["dh_hash_type"]) != dh["dh_hash"]:
        raise HashError("decoded-output hash mismatch")


def decode(stream: dict, ffmpeg: str | None = None, model: MfcModel | CiIcmModel | None = None,
           max_groups: int | None = None, task_network: str | None = None, ci_icm_weights=None):
    """D.2.5: the tool's output (a picture, or the list of tensors), hash-checked unless partial.

    ``model`` is the model file the decoder has for the stream's ``ps_model_id``: an ``MfcModel`` (``mfc``, named
    by ``mfc_model_name``) or a ``CiIcmModel`` (``ci-icm``, named by ``ci_icm_model_name``); for ``ci-icm`` it may
    instead be looked up in the folder(s) ``ci_icm_weights`` (``load_ci_icm_model``). ``task_network`` asks a
    ``ci-icm`` decode for the picture adapted for that task network (D.11.7; the hash is checked on the plain
    picture)."""
    tool = stream["ps"]["ps_tool_id"]
    if tool in (0, 4):  # npp-vvc decodes as vvc-image (D.3.7)
        output = decode_vvc_image(stream, ffmpeg)
    elif tool == 1:
        output = decode_vvc_feature(stream, ffmpeg)
    elif tool == 2:
        output = decode_mfc(stream, model, max_groups=max_groups)
        if max_groups is not None and all(max_groups >= len(c["groups"]) for c in model.codecs):
            max_groups = None  # D.5.7: K >= G for every codec is a full decode, hash-checked
    elif tool == 3:
        if not isinstance(model, CiIcmModel):
            model = None
            if stream["ps"]["ps_model_id"] and ci_icm_weights is not None:
                model = load_ci_icm_model(ci_icm_weights, stream["ps"]["ps_model_id"])
        output, adapted = decode_ci_icm(stream, model, max_groups=max_groups, task_network=task_network)
        if max_groups is None or max_groups >= len(model.groups):  # D.11.6: K >= G is a full decode
            check_hash(output, stream)
        return output if adapted is None else adapted
    else:  # 5..255: reserved (D.2.5)
        raise SpecError(f"ps_tool_id {tool}: not covered by this specification")
    if max_groups is None:
        check_hash(output, stream)
    return output
