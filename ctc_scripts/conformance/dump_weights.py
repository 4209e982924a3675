"""Convert one ``mfc`` weights file (a torch ``.pt`` zip) into a non-pickle ``.npz`` plus a JSON manifest.

    python -m icm.ctc_scripts.conformance.dump_weights common/models/weights/mfc_q3.pt -o out/mfc_q3
    # writes out/mfc_q3.npz and out/mfc_q3.json

so that a third party can read a model without torch (``numpy.load(path, allow_pickle=False)`` and ``json``).
The layout is described in ``docs/decoding.md`` (section "The mfc weights file"):

* every tensor of the file becomes one array of the ``.npz``, with its dtype and shape unchanged, under its key
  path with nested dicts and lists flattened by ``/`` (``codecs/0/e/2/w3``, ``predictor/exact/b11``);
* every other value (strings, numbers, booleans, ``None``, lists and tuples of those) goes into the manifest's
  ``values`` under the same kind of key (tuples become JSON lists); a list or tuple that holds a dict or a tensor
  is flattened by index like a dict;
* the manifest also lists every array (``arrays``: dtype and shape), the source file's name, size and SHA-256,
  and ``ps_model_hash`` (the first 4 bytes of that SHA-256 as 8 hex digits, as the streams carry it).

The ``.pt`` file is only read (``torch.load(..., weights_only=True)``), never written. This script needs torch;
the files it writes do not.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path

import numpy as np

MANIFEST_FORMAT = "icm-weights-manifest-1"


def _is_leaf_list(value) -> bool:
    return isinstance(value, (list, tuple)) and all(
        _is_leaf_list(v) or v is None or isinstance(v, (str, int, float, bool)) for v in value)


def flatten(tree, prefix: str = "") -> tuple[dict, dict]:
    """(arrays, values): the tensors as numpy arrays and the other leaves, keyed by '/'-joined paths."""
    import torch

    arrays, values = {}, {}

    def walk(node, path: str) -> None:
        if isinstance(node, torch.Tensor):
            arrays[path] = node.detach().cpu().numpy()
        elif isinstance(node, np.ndarray):
            arrays[path] = node
        elif isinstance(node, dict):
            for key, child in node.items():
                if "/" in str(key):
                    raise ValueError(f"key {key!r} under {path!r} contains '/'")
                walk(child, f"{path}/{key}" if path else str(key))
        elif isinstance(node, (list, tuple)) and not _is_leaf_list(node):
            for index, child in enumerate(node):
                walk(child, f"{path}/{index}" if path else str(index))
        elif isinstance(node, (list, tuple)):
            values[path] = json.loads(json.dumps(node))  # tuples -> lists
        elif node is None or isinstance(node, (str, int, float, bool)):
            values[path] = node
        else:
            raise TypeError(f"{path}: cannot store a {type(node).__name__}")

    walk(tree, prefix)
    return arrays, values


def convert(pt_path: Path, out_stem: Path) -> tuple[Path, Path]:
    """Write ``out_stem.npz`` and ``out_stem.json`` from ``pt_path``; returns their paths."""
    import torch

    raw = pt_path.read_bytes()
    tree = torch.load(pt_path, map_location="cpu", weights_only=True)
    arrays, values = flatten(tree)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    npz_path = out_stem.with_suffix(".npz")
    json_path = out_stem.with_suffix(".json")
    np.savez(npz_path, **arrays)
    digest = hashlib.sha256(raw).hexdigest()
    manifest = {
        "manifest_format": MANIFEST_FORMAT,
        "source": {"file": pt_path.name, "bytes": len(raw), "sha256": digest, "ps_model_hash": digest[:8]},
        "arrays": {key: {"dtype": str(a.dtype), "shape": list(a.shape)} for key, a in arrays.items()},
        "values": values,
    }
    text = json.dumps(manifest, indent=1)
    # lists of plain values on one line: [64, 96, 3, 3] instead of one number per line
    text = re.sub(r"\[\s*([^\[\]{}]*?)\s*\]", lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]"
                  if m.group(1).strip() else "[]", text)
    json_path.write_text(text + "\n")
    return npz_path, json_path


def load(stem: Path) -> tuple[dict, dict]:
    """(arrays, manifest) of a converted model, without torch or pickle."""
    stem = Path(stem)
    with np.load(stem.with_suffix(".npz"), allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    return arrays, json.loads(stem.with_suffix(".json").read_text())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", type=Path, help="an mfc weights file (.pt)")
    parser.add_argument("-o", "--out", type=Path, help="output stem (default: the input's name in the current "
                                                        "folder); writes STEM.npz and STEM.json")
    args = parser.parse_args(argv)
    stem = args.out if args.out is not None else Path(args.weights.stem)
    npz_path, json_path = convert(args.weights, stem)
    arrays, manifest = load(stem)
    print(f"{args.weights}: {len(arrays)} arrays -> {npz_path}, {len(manifest['values'])} values -> {json_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
