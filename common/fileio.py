"""Atomic file writes: a reader never sees a half-written bitstream, tensor file or result."""
import io
import json
import os
from pathlib import Path

from .errors import OutputError


def write_bytes_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` (its folder made if missing); OutputError (exit status 3) if it cannot be."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: cannot make its folder {path.parent} "
                          f"({exc.strerror or type(exc).__name__})") from None
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or type(exc).__name__}") from None
    finally:
        try:
            temporary.unlink(missing_ok=True)
        except OSError:
            pass


def write_json_atomically(path: str | os.PathLike, value) -> None:
    write_bytes_atomically(path, (json.dumps(value, indent=1) + "\n").encode())


def write_npz_atomically(path: str | os.PathLike, arrays: dict) -> None:
    """Write the numpy ``arrays`` as an ``.npz`` file (numpy is imported here, not with this module)."""
    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes_atomically(path, buffer.getvalue())
