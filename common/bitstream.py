"""An ICM bitstream as units, and its conversion to and from bytes.

The syntax itself is declared in ``icm.common.syntax.structures``; this module orders the units,
checks the rules that span several units (the semantics), and gives tools a typed container.
"""
from dataclasses import dataclass, field

from .errors import BitstreamError, LevelLimitError
from .syntax import structures as S
from .syntax.interpreter import Tracer, read_structure, write_structure
from .syntax.framing import read_raw
from .syntax.levels import DEFAULT_LEVEL_IDC, LEVELS, level_limits, smallest_level_for


SIDE_INFORMATION = -1  # the group index of a tensor's side information (its hyper latent) in Bitstream.payloads


@dataclass
class Bitstream:
    """The units of one bitstream; each header is a dict keyed by syntax element name."""

    parameter_set: dict
    feature_header: dict | None = None
    channel_group_headers: list[dict] = field(default_factory=list)
    payloads: list[dict] = field(default_factory=list)
    output_hash: dict | None = None

    @property
    def tool(self) -> str:
        """The name the syntax's TOOLS table gives ``ps_tool_id`` (``tool <id>`` for an id outside it)."""
        tool_id = self.parameter_set["ps_tool_id"]
        return S.TOOLS.get(tool_id, f"tool {tool_id}")

    def payload(self, tensor_id: int = 0, group_idx: int = 0) -> bytes:
        for unit in self.payloads:
            if unit["pl_tensor_id"] == tensor_id and unit["pl_group_idx"] == group_idx:
                return unit["pl_data"]
        raise BitstreamError(f"missing payload for tensor {tensor_id}, group {group_idx}")

    def add_payload(self, data: bytes, payload_type: int, tensor_id: int = 0, group_idx: int = 0) -> None:
        self.payloads.append({"pl_type": payload_type, "pl_tensor_id": tensor_id, "pl_group_idx": group_idx,
                              "pl_data": bytes(data)})


def new_parameter_set(tool: str | int, width: int, height: int, **values) -> dict:
    """A parameter set with every element at its default; ``values`` override elements by name. ``tool``:
    the tool's id (``ToolEncoder.tool_id``), or its name in the syntax's TOOLS table."""
    tool_id = tool if isinstance(tool, int) else {name: idx for idx, name in S.TOOLS.items()}[tool]
    ps = {"ps_level_idc": smallest_level_for(max_picture_width=width, max_picture_height=height,
                                             max_picture_samples=width * height),
          "ps_tool_id": tool_id, "ps_model_id": 0, "ps_picture_width": width, "ps_picture_height": height,
          "ps_bit_depth_minus8": 0, "ps_task_network_id": 0, "ps_inner_codec_id": 0, "ps_resampling_flag": 0,
          "ps_extension_flag": 0, "ps_model_layout_flag": 0}
    ps.update(values)
    return ps


def serialize(bitstream: Bitstream, tracer: Tracer | None = None) -> bytes:
    """The bytes of ``bitstream``: parameter set, headers, payloads (one unit per tensor), then the output hash.
    The parameter set's ``ps_task_input_size_flag`` is derived here: 0 when the task input size is the task
    network's default."""
    if bitstream.output_hash is None:
        raise ValueError("a bitstream needs its decoded-output hash before it is written")
    if bitstream.parameter_set.get("ps_model_layout_flag") and (
            bitstream.feature_header is not None or bitstream.channel_group_headers):
        raise ValueError("a bitstream with ps_model_layout_flag 1 carries no feature or channel-group header")
    units = [(S.UNIT_PARAMETER_SET, _with_task_input_flag(bitstream.parameter_set))]
    if bitstream.feature_header is not None:
        units.append((S.UNIT_FEATURE_HEADER, bitstream.feature_header))
    units += [(S.UNIT_CHANNEL_GROUP_HEADER, cg) for cg in bitstream.channel_group_headers]
    units += [(S.UNIT_PAYLOAD, pl) for pl in payload_units(bitstream.payloads)]
    units.append((S.UNIT_HASH, bitstream.output_hash))
    values = {"bs_syntax_version_major": S.SYNTAX_VERSION_MAJOR, "bs_syntax_version_minor": S.SYNTAX_VERSION_MINOR,
              "units": [{"unit_type": unit_type, "body": body} for unit_type, body in units]}
    return write_structure(S.BITSTREAM, values, tracer=tracer)


def _with_task_input_flag(ps: dict) -> dict:
    if not ps.get("ps_task_network_id"):
        return ps
    default = S.TASK_NETWORK_DEFAULT_INPUT.get(ps["ps_task_network_id"])
    size = (ps.get("ps_task_input_width"), ps.get("ps_task_input_height"))
    return {**ps, "ps_task_input_size_flag": int(size != default)}


def payload_units(payloads: list[dict]) -> list[dict]:
    """The payload units of a tool's payloads: per tensor, in the order tensors first appear, one unit. An
    inner-codec bitstream is its tensor's only payload; a tensor's entropy-coded substreams, its side
    information (group ``SIDE_INFORMATION``; empty when the tool has none) and groups 0..k-1, become one unit
    with the side information first, then the groups in order."""
    by_tensor: dict[int, list[dict]] = {}
    for unit in payloads:
        by_tensor.setdefault(unit["pl_tensor_id"], []).append(unit)
    units = []
    for tensor_id, parts in by_tensor.items():
        kinds = {part["pl_type"] for part in parts}
        if kinds == {1}:
            if len(parts) != 1:
                raise ValueError(f"tensor {tensor_id} has {len(parts)} inner-codec payloads")
            units.append({"pl_type": 1, "pl_tensor_id": tensor_id, "pl_data": parts[0]["pl_data"]})
            continue
        if kinds != {0}:
            raise ValueError(f"tensor {tensor_id} mixes payload types")
        by_group = {SIDE_INFORMATION: b"", **{part["pl_group_idx"]: part["pl_data"] for part in parts}}
        groups = len(by_group) - 1
        if sorted(by_group) != list(range(SIDE_INFORMATION, groups)):
            raise ValueError(f"tensor {tensor_id}: substreams of groups {sorted(by_group)}, not the side "
                             f"information and groups 0..{groups - 1}")
        ordered = [by_group[g] for g in range(SIDE_INFORMATION, groups)]
        units.append({"pl_type": 0, "pl_tensor_id": tensor_id, "pl_num_substreams_minus1": groups,
                      "substreams": [{"pl_substream_size": len(data)} for data in ordered[:-1]],
                      "pl_data": b"".join(ordered)})
    return units


def split_payload_unit(unit: dict) -> list[dict]:
    """A parsed payload unit as the tool's payloads (the inverse of :func:`payload_units`)."""
    if unit["pl_type"] == 1:
        return [{"pl_type": 1, "pl_tensor_id": unit["pl_tensor_id"], "pl_group_idx": 0, "pl_data": unit["pl_data"]}]
    sizes = [item["pl_substream_size"] for item in unit["substreams"]]
    data = unit["pl_data"]
    if sum(sizes) > len(data):
        raise BitstreamError(f"payload of tensor {unit['pl_tensor_id']}: substream sizes add up to {sum(sizes)} "
                             f"bytes, the unit has {len(data)}")
    parts, at = [], 0
    for group, size in enumerate(sizes + [len(data) - sum(sizes)], start=SIDE_INFORMATION):
        parts.append({"pl_type": 0, "pl_tensor_id": unit["pl_tensor_id"], "pl_group_idx": group,
                      "pl_data": data[at:at + size]})
        at += size
    return parts


def parse(data: bytes, tracer: Tracer | None = None) -> Bitstream:
    """Parse and check a bitstream; raise BitstreamError / LevelLimitError on any violation. Whether a
    decoder has the tool that ``ps_tool_id`` names is the dispatch's business (``icm.common.registry``)."""
    if len(data) < 4 or int.from_bytes(data[:4], "big") != S.MAGIC:
        raise BitstreamError("not an ICM bitstream (wrong magic number)")
    _check_version(data)
    _check_unit_counts(data)
    units = read_structure(S.BITSTREAM, data, tracer=tracer)["units"]
    if not units or units[0]["unit_type"] != S.UNIT_PARAMETER_SET:
        raise BitstreamError("the first unit is not a parameter set")
    bitstream = Bitstream(parameter_set=units[0]["body"])
    for unit in units[1:]:
        unit_type, body = unit["unit_type"], unit["body"]
        if bitstream.output_hash is not None:
            raise BitstreamError("units after the decoded-output hash")
        if unit_type == S.UNIT_PARAMETER_SET:
            raise BitstreamError("more than one parameter set")
        elif unit_type == S.UNIT_FEATURE_HEADER:
            if bitstream.feature_header is not None:
                raise BitstreamError("more than one feature header")
            bitstream.feature_header = body
        elif unit_type == S.UNIT_CHANNEL_GROUP_HEADER:
            bitstream.channel_group_headers.append(body)
        elif unit_type == S.UNIT_PAYLOAD:
            if any(p["pl_tensor_id"] == body["pl_tensor_id"] for p in bitstream.payloads):
                raise BitstreamError(f"two payload units for tensor {body['pl_tensor_id']}")
            bitstream.payloads += split_payload_unit(body)
        elif unit_type == S.UNIT_HASH:
            bitstream.output_hash = body
        # other unit types are reserved: skipped
    if bitstream.output_hash is None:
        raise BitstreamError("truncated bitstream: no decoded-output hash unit")
    _check_semantics(bitstream)
    return bitstream


# units of which a bitstream has at most one per tensor (fh_tensor_id / cg_tensor_id / pl_tensor_id)
PER_TENSOR_UNITS = {S.UNIT_CHANNEL_GROUP_HEADER: "channel-group headers", S.UNIT_PAYLOAD: "payload units"}


def _check_unit_counts(data: bytes) -> None:
    """The units' framing read ahead, bodies skipped (``syntax.framing``): a bitstream with more channel-group
    headers or payload units than the level's ``max_tensors`` (one per tensor at most) is refused before any
    body is parsed, so that the largest headers a decoder parses are those of ``max_tensors`` tensors. Damaged
    framing is left to the full parse, which reports it where it is."""
    try:
        _, units = read_raw(data)
    except BitstreamError:
        return
    level_idc = DEFAULT_LEVEL_IDC
    if units and units[0][0] == S.UNIT_PARAMETER_SET and units[0][1]:
        level_idc = units[0][1][0]  # ps_level_idc, u(8), the body's first byte
    if level_idc not in LEVELS:
        return
    limit = LEVELS[level_idc]["max_tensors"]
    for unit_type, name in PER_TENSOR_UNITS.items():
        if sum(1 for t, _ in units if t == unit_type) > limit:
            raise LevelLimitError(f"more than max_tensors = {limit} {name} (at most one per tensor)")


def _check_version(data: bytes) -> None:
    """A clear refusal of other syntax versions, before anything else is parsed."""
    if len(data) < 5:
        raise BitstreamError("truncated bitstream: no syntax version")
    if data[4] == 0 and len(data) > 9 and data[9] == 1:  # version 1: unit type 0, 32-bit size, then the version
        found = "1"
    elif data[4] == 2:  # version 2: major and minor in one byte each
        found = f"2.{data[5]}" if len(data) > 5 else "2"
    else:
        found = f"{data[4] >> 4}.{data[4] & 15}"
        if data[4] >> 4 == S.SYNTAX_VERSION_MAJOR:
            return
    raise BitstreamError(f"an ICM syntax version {found} bitstream: this decoder reads version "
                         f"{S.SYNTAX_VERSION_MAJOR} only (re-encode it)")


# the output type (dh_output_type) of each tool of the syntax's TOOLS table (decoding.md D.2.5); experimental
# tools (ids outside the table) are not checked here
TOOL_OUTPUT_TYPES = {0: 0, 1: 1, 2: 1, 3: 0, 4: 0}


def _check_semantics(bitstream: Bitstream) -> None:
    ps = bitstream.parameter_set
    limits = level_limits(ps["ps_level_idc"])
    _resolve_task_input_size(ps)
    if ps.get("ps_model_layout_flag") and (bitstream.feature_header is not None or bitstream.channel_group_headers):
        raise BitstreamError("a feature or channel-group header although ps_model_layout_flag is 1 (the model's "
                             "layout)")
    dh = bitstream.output_hash
    if len(dh["dh_hash"]) != S.HASH_BYTES[dh["dh_hash_type"]]:
        raise BitstreamError(f"dh_hash has {len(dh['dh_hash'])} bytes; {S.HASH_TYPES[dh['dh_hash_type']]} needs "
                             f"{S.HASH_BYTES[dh['dh_hash_type']]}")
    output_type = TOOL_OUTPUT_TYPES.get(ps["ps_tool_id"])
    if output_type is not None and dh["dh_output_type"] != output_type:
        raise BitstreamError(f"dh_output_type {dh['dh_output_type']}: {S.TOOLS[ps['ps_tool_id']]} outputs "
                             f"{'a picture (0)' if output_type == 0 else 'feature tensors (1)'}")
    if ps["ps_picture_width"] * ps["ps_picture_height"] > limits["max_picture_samples"]:
        raise LevelLimitError(f"picture {ps['ps_picture_width']}x{ps['ps_picture_height']} exceeds the level "
                              f"limit max_picture_samples = {limits['max_picture_samples']}")
    if ps.get("ps_resampling_flag") and ps["ps_coded_width"] * ps["ps_coded_height"] > limits["max_picture_samples"]:
        raise LevelLimitError("coded picture size exceeds the level limit max_picture_samples")
    tensor_ids = set()
    if bitstream.feature_header is not None:
        for tensor in bitstream.feature_header["tensors"]:
            samples = tensor["fh_channels"] * tensor["fh_height"] * tensor["fh_width"]
            if samples > limits["max_feature_samples"]:
                raise LevelLimitError(f"tensor {tensor['fh_tensor_id']} has {samples} samples, above the level "
                                      f"limit max_feature_samples = {limits['max_feature_samples']}")
            if tensor["fh_tensor_id"] in tensor_ids:
                raise BitstreamError(f"tensor id {tensor['fh_tensor_id']} appears twice")
            tensor_ids.add(tensor["fh_tensor_id"])
            _check_tensor_geometry(ps, tensor)
    group_tensors = [cg["cg_tensor_id"] for cg in bitstream.channel_group_headers]
    if len(set(group_tensors)) != len(group_tensors):
        raise BitstreamError("two channel-group headers for one tensor (cg_tensor_id)")
    for cg in bitstream.channel_group_headers:
        if sum(g["cg_group_size"] for g in cg["groups"]) != cg["cg_num_channels"]:
            raise BitstreamError("channel group sizes do not add up to cg_num_channels")
        if cg["cg_channel_order_flag"]:
            order = {c["cg_channel_index"] for c in cg["order"]}
            count = cg["cg_num_channels"]
            if len(cg["order"]) != count or len(order) != count or not order <= set(range(count)):
                raise BitstreamError("cg_channel_index is not a permutation of the channels")


def _resolve_task_input_size(ps: dict) -> None:
    """Fill in the task network's default input size where ``ps_task_input_size_flag`` is 0."""
    if not ps.get("ps_task_network_id") or ps.get("ps_task_input_size_flag"):
        return
    default = S.TASK_NETWORK_DEFAULT_INPUT.get(ps["ps_task_network_id"])
    if default is None:
        raise BitstreamError(f"task network id {ps['ps_task_network_id']} has no default input size "
                             "(ps_task_input_size_flag 0)")
    ps["ps_task_input_width"], ps["ps_task_input_height"] = default


def _check_tensor_geometry(ps: dict, tensor: dict) -> None:
    """A split tensor of stride 2^s has the task input size divided by 2^s (the input a multiple of it)."""
    if not ps.get("ps_task_network_id"):
        raise BitstreamError("a feature header without a task network (ps_task_network_id 0)")
    stride = 1 << tensor["fh_stride_log2"]
    if (tensor["fh_width"] * stride, tensor["fh_height"] * stride) != (ps["ps_task_input_width"],
                                                                       ps["ps_task_input_height"]):
        raise BitstreamError(f"tensor {tensor['fh_tensor_id']} ({tensor['fh_width']}x{tensor['fh_height']}, "
                             f"stride {stride}) does not fit the task input "
                             f"{ps['ps_task_input_width']}x{ps['ps_task_input_height']}")
