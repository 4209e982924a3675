"""Atomic file writes: a reader never sees a half-written bitstream, tensor file or result."""
import io
import json
import os
from pathlib import Path

import numpy as np


def write_bytes_atomically(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_json_atomically(path: str | os.PathLike, value) -> None:
    write_bytes_atomically(path, (json.dumps(value, indent=1) + "\n").encode())


def write_npz_atomically(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes_atomically(path, buffer.getvalue())
