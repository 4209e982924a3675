"""The suite's MD5s checked by the independent decoder written from the specification (``spec_decoder.py``).

    python -m icm.ctc_scripts.conformance.spec_cross_check [--only NAME ...]

Every entry that decodes (full, partial or adapted) is decoded by ``spec_decoder`` (VVC by ffmpeg, everything after it
and all of ``mfc`` and ``ci-icm`` from docs/decoding.md), its full decodes checked against the stream's own hash
(MD5 or CRC-32, D.7), and the MD5 of its output compared with the manifest's: so the suite's expected outputs do
not rest on ``icm-dec`` alone. Every entry that must be refused must be refused by ``spec_decoder`` too, as a level-limit or
range error (``icm-dec`` exit status 5), a model it does not have (7) or another error (4) as the manifest says. Needs torch once, to convert
the ``mfc`` weights (``dump_weights``).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from . import manifest as M
from .manifest import decode_settings


def model_name(model_id: int) -> str:
    """D.5.1: the file name of the mfc model ``model_id`` (``SpecError`` subclass ``ModelError`` if none)."""
    from .spec_decoder import mfc_model_name

    return mfc_model_name(model_id)


def spec_md5(data: bytes, max_groups: int | None, models: dict, folder: Path, ffmpeg: str,
             task_network: str | None = None) -> str:
    """The MD5 of the spec decoder's output (D.7's canonical byte string); a full decode is also checked against
    the stream's hash unit. Raises ``SpecError`` when the spec decoder refuses the stream."""
    from . import spec_decoder as sd
    from .spec_check import models_from_pt

    stream = sd.parse(data)
    model = None
    if stream["ps"]["ps_tool_id"] == 2 and stream["ps"]["ps_model_id"]:
        name = model_name(stream["ps"]["ps_model_id"])
        if name not in models:
            models.update(models_from_pt([name], folder))
        model = models[name]
    elif stream["ps"]["ps_tool_id"] == 3 and stream["ps"]["ps_model_id"]:
        name, _ = sd.ci_icm_model_name(stream["ps"]["ps_model_id"])  # D.11.1 (ModelError if none)
        if name not in models:
            models[name] = sd.load_ci_icm_model(ci_icm_folders(), stream["ps"]["ps_model_id"])
        model = models[name]
    return sd.output_md5(sd.decode(stream, ffmpeg, model, max_groups, task_network), stream)


def ci_icm_folders() -> list[Path]:
    """Where the ``ci-icm`` weights files are looked for, as ``icm-dec`` does: the folder named by
    ``ICM_CI_ICM_WEIGHTS``, then ``common/models/weights``."""
    import os

    from icm.common.models.zoo import WEIGHTS_DIR

    extra = os.environ.get("ICM_CI_ICM_WEIGHTS")
    return ([Path(extra)] if extra else []) + [WEIGHTS_DIR]


def spec_status(error) -> int:
    """The exit status ``icm-dec`` gives for the spec decoder's refusal ``error`` (docs/usage.md)."""
    from . import spec_decoder as sd

    for kind, status in ((sd.LevelError, 5), (sd.HashError, 6), (sd.ModelError, 7)):
        if isinstance(error, kind):
            return status
    return 4


def check(folder: Path = M.FOLDER, only: list[str] | None = None, report=print) -> list[str]:
    """Names of the entries the spec decoder disagrees on (empty: all agree): a decode whose MD5 it does not
    reproduce, a stream it refuses that decodes, or one it decodes that must be refused."""
    from . import spec_decoder as sd
    from .spec_check import find_ffmpeg

    ffmpeg = find_ffmpeg()
    failed, models = [], {}
    with tempfile.TemporaryDirectory() as scratch:
        for entry in M.load(folder)["entries"]:
            if only and entry["name"] not in only:
                continue
            data = (folder / entry["stream"]).read_bytes()
            refused = None
            try:
                decode = decode_settings(entry)
                md5 = spec_md5(data, decode["max_groups"], models, Path(scratch), ffmpeg, decode["task_network"])
            except sd.SpecError as exc:
                md5, refused = f"refused: {type(exc).__name__}: {exc}", exc
            except Exception as exc:  # noqa: BLE001 - a crash of the spec decoder is a disagreement too
                md5 = f"error: {type(exc).__name__}: {exc}"
            if entry["expect"]["outcome"] == "decode":
                ok = md5 == entry["expect"]["md5"]
            else:  # refused, with the status icm-dec gives (decoding.md): 5 level limit or range, 6 hash, 7 model
                ok = refused is not None and spec_status(refused) == entry["expect"]["exit_status"]
            report(f"{'ok  ' if ok else 'FAIL'} {entry['name']}: {md5}")
            if not ok:
                failed.append(entry["name"])
    return failed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", default=str(M.FOLDER))
    parser.add_argument("--only", nargs="*", help="entry names")
    args = parser.parse_args(argv)
    failed = check(Path(args.folder), args.only)
    print("all agree" if not failed else f"disagree: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
