"""The built-in decoder of ``icm-conform``: ``icm-dec -i BITSTREAM -o OUTPUT [--max-groups K] [--task-network
NAME]`` in one long-lived process, so that torch and the models load once for the whole suite.

Protocol: one JSON request per line on standard input, ``{"bitstream": PATH, "output": PATH, "max_groups": K,
"task_network": NAME}`` (the last two may be null or absent);
one JSON answer per line, ``{"status": N, "message": TEXT}``, where N is the exit status ``icm-dec`` would give
(0, or an error's documented status; 1 for an internal error). Anything else the process prints goes to
standard error, never into the answers.
"""
from __future__ import annotations

import json
import os
import sys


def handle(request: dict, tools) -> dict:
    from ...common.config import DecoderConfig
    from ...common.errors import IcmError
    from ...decoder.app import write_output
    from ...decoder.pipeline import decode_bytes, read_bitstream_file

    try:
        data = read_bitstream_file(request["bitstream"])
        config = DecoderConfig(max_groups=request.get("max_groups"), task_network=request.get("task_network"))
        result = decode_bytes(data, config, tools=tools)
        if request.get("output"):
            write_output(request["output"], result.output)
        md5 = result.output.md5().hex()
        if result.output.partial:
            checked = "not hash-checked (partial decode)"
        elif result.output.adapted_for is not None:
            checked = f"adapted for {result.output.adapted_for}; the plain picture matches the stream"
        else:
            checked = "matches the stream"
        return {"status": 0, "message": f"decoded-output MD5 {md5}: {checked}"}
    except IcmError as exc:
        return {"status": exc.exit_code, "message": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a bug of the decoder: reported as icm-dec would, status 1
        message = str(exc).splitlines()[0] if str(exc) else ""
        return {"status": 1, "message": f"internal error: {type(exc).__name__}: {message}"}


def main() -> int:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints (libraries, tools) go to standard error
    from ...common.registry import ToolInstances

    tools = ToolInstances()
    for line in sys.stdin:
        if line.strip():
            answers.write(json.dumps(handle(json.loads(line), tools)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
