"""The suite's MD5s checked by the independent decoder written from the specification (``spec_decoder.py``).

    python -m icm.ctc_scripts.conformance.spec_cross_check [--only NAME ...]

Every entry that decodes (full or partial) is decoded by ``spec_decoder`` (VVC by ffmpeg, everything after it
and all of ``mfc`` from docs/decoding.md), and its MD5 compared with the manifest's: so the suite's expected
outputs do not rest on ``icm-dec`` alone. Needs torch once, to convert the ``mfc`` weights (``dump_weights``).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from . import manifest as M

FAMILIES = {0: "mfc_q{q}", 10: "mfc-noxs_q{q}", 20: "mfc-nogroup_q{q}", 30: "mfc-short_q{q}"}


def model_name(model_id: int) -> str:
    return FAMILIES[model_id // 10 * 10].format(q=model_id % 10)


def spec_md5(data: bytes, max_groups: int | None, models: dict, folder: Path, ffmpeg: str) -> str:
    from . import spec_decoder as sd
    from .spec_check import models_from_pt

    stream = sd.parse(data)
    tool = stream["ps"]["ps_tool_id"]
    if tool == 0:
        return sd.output_md5(sd.decode_vvc_image(stream, ffmpeg))
    if tool == 1:
        return sd.output_md5(sd.decode_vvc_feature(stream, ffmpeg))
    name = model_name(stream["ps"]["ps_model_id"])
    if name not in models:
        models.update(models_from_pt([name], folder))
    return sd.output_md5(sd.decode_mfc(stream, models[name], max_groups=max_groups))


def check(folder: Path = M.FOLDER, only: list[str] | None = None, report=print) -> list[str]:
    """Names of the entries whose MD5 the spec decoder does not reproduce (empty: all agree)."""
    from .spec_check import find_ffmpeg

    ffmpeg = find_ffmpeg()
    failed, models = [], {}
    with tempfile.TemporaryDirectory() as scratch:
        for entry in M.load(folder)["entries"]:
            if entry["expect"]["outcome"] != "decode" or (only and entry["name"] not in only):
                continue
            data = (folder / entry["stream"]).read_bytes()
            try:
                md5 = spec_md5(data, entry["decode"]["max_groups"], models, Path(scratch), ffmpeg)
            except Exception as exc:  # noqa: BLE001 - the spec decoder's refusal is a disagreement too
                md5 = f"error: {type(exc).__name__}: {exc}"
            ok = md5 == entry["expect"]["md5"]
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
