"""Rewrites of a real stream's units, for the conformance streams that no encoder writes.

Each function takes the declaration's values of a stream (``units.read_units``) and returns a function that
changes a copy of them; ``units.write_units`` then writes the result through the declaration. The
decoded-output hash unit is set afterwards by the generator, from what the decoder outputs.
"""
from __future__ import annotations

import copy
from typing import Callable

from ...common.syntax import structures as S
from ...common.syntax.levels import level_limits
from .units import index_of, parameter_set, reserved_unit, units_of

Rewrite = Callable[[dict], dict]


def chain(*rewrites: Rewrite) -> Rewrite:
    def run(values: dict) -> dict:
        for rewrite in rewrites:
            values = rewrite(values)
        return values
    return run


def apply(rewrite: Rewrite, values: dict) -> dict:
    return rewrite(copy.deepcopy(values))


def pattern(length: int, seed: int) -> bytes:
    """``length`` bytes that are neither zeros nor a start code: ``(seed + 37 i) mod 251``."""
    return bytes((seed + 37 * i) % 251 for i in range(length))


def set_parameters(**changes) -> Rewrite:
    """Parameter-set elements set to new values."""
    def run(values: dict) -> dict:
        parameter_set(values).update(changes)
        return values
    return run


def set_tensors(**changes) -> Rewrite:
    """Feature-header elements of every tensor set to new values."""
    def run(values: dict) -> dict:
        for tensor in units_of(values, S.UNIT_FEATURE_HEADER)[0]["tensors"]:
            tensor.update(changes)
        return values
    return run


def set_hash(**changes) -> Rewrite:
    """Decoded-output-hash elements set to new values (for a must-reject stream: the generator does not set
    the hash of a stream that decoders refuse)."""
    def run(values: dict) -> dict:
        units_of(values, S.UNIT_HASH)[0].update(changes)
        return values
    return run


def flip_model_hash(bit: int = 0) -> Rewrite:
    """``ps_model_hash`` with one bit inverted: a model that no decoder has."""
    def run(values: dict) -> dict:
        parameter_set(values)["ps_model_hash"] ^= 1 << bit
        return values
    return run


def payload_as_substreams(tensor_id: int) -> Rewrite:
    """The inner-codec payload of ``tensor_id`` rewritten as an entropy-coded one (``pl_type`` 0) of two
    substreams: an empty side information, then the unchanged bytes as substream 1."""
    def run(values: dict) -> dict:
        unit = next(u for u in units_of(values, S.UNIT_PAYLOAD) if u["pl_tensor_id"] == tensor_id)
        unit.update(pl_type=0, pl_num_substreams_minus1=1, substreams=[{"pl_substream_size": 0}])
        return values
    return run


def repeat_payload(tensor_id: int, times: int = 2) -> Rewrite:
    """The payload data of ``tensor_id`` repeated ``times`` times (a VVC bitstream of as many pictures)."""
    def run(values: dict) -> dict:
        unit = next(u for u in units_of(values, S.UNIT_PAYLOAD) if u["pl_tensor_id"] == tensor_id)
        unit["pl_data"] = bytes(unit["pl_data"]) * times
        return values
    return run


def add_feature_header(tensors: list[dict]) -> Rewrite:
    """A feature header with these tensors (each a dict of ``fh_`` elements; the absent optional ones are
    filled in: no reference, no range, no packing unless given), placed after the parameter set."""
    def run(values: dict) -> dict:
        body = {"fh_num_tensors": len(tensors),
                "tensors": [{"fh_coding_mode": 0, "fh_range_flag": 0, "fh_packing_idc": 0, **t} for t in tensors]}
        at = index_of(values, S.UNIT_PARAMETER_SET) + 1
        values["units"].insert(at, {"unit_type": S.UNIT_FEATURE_HEADER, "body": body})
        return values
    return run


def set_version_minor(minor: int) -> Rewrite:
    def run(values: dict) -> dict:
        values["bs_syntax_version_minor"] = minor
        return values
    return run


def add_extension(length: int | str) -> Rewrite:
    """``ps_extension_flag`` 1 with ``length`` bytes of extension data; ``"max"``: the level's
    ``max_extension_bytes``."""
    def run(values: dict) -> dict:
        ps = parameter_set(values)
        count = level_limits(ps["ps_level_idc"])["max_extension_bytes"] if length == "max" else length
        ps.update(ps_extension_flag=1, ps_extension_length=count, ps_extension_data=pattern(count, 1))
        return values
    return run


def insert_reserved(*placements: tuple[str, int, int]) -> Rewrite:
    """Reserved units inserted: ``(where, unit_type, length)`` with ``where`` one of ``after_ps``,
    ``before_hash``, ``after_hash`` (a must-reject stream), ``before_cg``, ``before_payloads`` (before the first
    unit of that kind) and ``between_payloads`` (after the first payload)."""
    def run(values: dict) -> dict:
        units = values["units"]
        for number, (where, unit_type, length) in enumerate(placements):
            if where == "after_ps":
                at = 1
            elif where == "before_hash":
                at = index_of(values, S.UNIT_HASH)
            elif where == "after_hash":
                at = len(units)
            elif where == "before_cg":
                at = index_of(values, S.UNIT_CHANNEL_GROUP_HEADER)
            elif where == "before_payloads":
                at = index_of(values, S.UNIT_PAYLOAD)
            elif where == "between_payloads":
                at = index_of(values, S.UNIT_PAYLOAD) + 1
            else:
                raise ValueError(f"unknown place for a reserved unit: {where}")
            units.insert(at, reserved_unit(unit_type, pattern(length, 7 * number + unit_type)))
        return values
    return run


def explicit_layout(layout_of: Callable[[dict], tuple[dict | None, list[dict]]]) -> Rewrite:
    """``ps_model_layout_flag`` 0 and the headers the model implies written out: ``layout_of(parameter set)``
    gives the feature header (or None) and the channel-group headers, placed after the parameter set."""
    def run(values: dict) -> dict:
        ps = parameter_set(values)
        feature_header, group_headers = layout_of(ps)
        ps["ps_model_layout_flag"] = 0
        units = [{"unit_type": S.UNIT_FEATURE_HEADER, "body": feature_header}] if feature_header else []
        units += [{"unit_type": S.UNIT_CHANNEL_GROUP_HEADER, "body": cg} for cg in group_headers]
        at = index_of(values, S.UNIT_PARAMETER_SET) + 1
        values["units"][at:at] = units
        return values
    return run


def channel_group_header(tensor_id: int) -> Callable[[dict], dict]:
    def find(values: dict) -> dict:
        return next(cg for cg in units_of(values, S.UNIT_CHANNEL_GROUP_HEADER) if cg["cg_tensor_id"] == tensor_id)
    return find


def set_offsets(tensor_id: int, offsets: list[float]) -> Rewrite:
    """``cg_offset_flag`` 1 and these offsets in the channel-group header of ``tensor_id``."""
    def run(values: dict) -> dict:
        cg = channel_group_header(tensor_id)(values)
        if len(offsets) != cg["cg_num_groups"]:
            raise ValueError(f"{len(offsets)} offsets for {cg['cg_num_groups']} groups")
        cg.update(cg_offset_flag=1, offsets=[{"cg_offset": float(o)} for o in offsets])
        return values
    return run


def set_channel_order(tensor_id: int, order: list[int]) -> Rewrite:
    def run(values: dict) -> dict:
        cg = channel_group_header(tensor_id)(values)
        cg.update(cg_channel_order_flag=1, order=[{"cg_channel_index": c} for c in order])
        return values
    return run


def add_group_header(tensor_id: int, groups: int | str, channels_per_group: int, extra_groups: int = 0) -> Rewrite:
    """A channel-group header for ``tensor_id`` (one that the stream's tool does not read) with ``groups``
    groups (``"max"``: the level's ``max_groups``, plus ``extra_groups``) of ``channels_per_group`` channels
    each, an offset per group and an explicit channel order (the channels reversed), placed after the
    stream's own channel-group headers."""
    def run(values: dict) -> dict:
        limits = level_limits(parameter_set(values)["ps_level_idc"])
        count = (limits["max_groups"] if groups == "max" else groups) + extra_groups
        channels = count * channels_per_group
        header = {"cg_tensor_id": tensor_id, "cg_num_channels": channels, "cg_num_groups": count,
                  "groups": [{"cg_group_size": channels_per_group, "cg_scale": 1.0 + (g % 7) / 8}
                             for g in range(count)],
                  "cg_offset_flag": 1, "offsets": [{"cg_offset": (g % 5 - 2) / 4} for g in range(count)],
                  "cg_channel_order_flag": 1,
                  "order": [{"cg_channel_index": c} for c in reversed(range(channels))]}
        at = index_of(values, S.UNIT_PAYLOAD)
        values["units"].insert(at, {"unit_type": S.UNIT_CHANNEL_GROUP_HEADER, "body": header})
        return values
    return run
