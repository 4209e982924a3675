"""Where a CTC run keeps its records, shared by the runner that writes them and the report that reads them.

``<out>/run.json`` (the configuration and the dataset), ``<out>/points/<codec>/<point>/<image>.json`` (one
record per image, with the point's key) and ``complexity.json`` beside them.
"""
from __future__ import annotations

import json
from pathlib import Path

DEFAULT_OUTPUT_ROOT = "results"  # a run's folder is <this>/<name> unless the configuration or -o names one
RUN_FILE = "run.json"
POINTS_DIR = "points"
COMPLEXITY_FILE = "complexity.json"


def point_name(codec, value: int | None) -> str:
    """``<codec>/qpNN``, ``<codec>/qN`` (quality) or ``<codec>/original`` (uncompressed), for a ``CodecConfig``."""
    if value is None:
        return f"{codec.name}/original"
    return f"{codec.name}/qp{value:02d}" if codec.parameter == "qp" else f"{codec.name}/q{value}"


def point_dir(root: Path, codec, value: int | None) -> Path:
    return Path(root) / POINTS_DIR / point_name(codec, value)


def read_record(path: Path, key: str) -> dict | None:
    """The record at ``path`` if it is complete and has ``key``, else None."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("key") == key else None
