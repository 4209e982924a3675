"""Checks the decoding specification (``docs/decoding.md``, ``docs/entropy.md``) against the code and the streams.

    python -m icm.ctc_scripts.conformance.spec_check            # the fast checks (about 5 s), as the test runs them
    python -m icm.ctc_scripts.conformance.spec_check --full     # also the slow ones (exact-math cross-checks)

Each check prints one line. ``spec_decoder.py`` is the independent decoder written from the two documents (it
imports neither ``icm`` nor torch nor ``range-coder``); the checks compare it with the code and with the recorded
MD5s of ``tests/data/conformance``:

* ``scales``       the 64 Gaussian scales re-derived by the rule of E.5 (float64; ``--full``: also exactly);
* ``tables``       the 64 Gaussian tables rebuilt from the integer rules of E.3 to E.5, against the code's, and
                   their digest; ``--full``: every bin edge weight against floor(2^40 Phi) in 200-bit arithmetic;
* ``escape``       the escape prefix table of E.6;
* ``range-coder``  the range decoder and encoder of E.2 (pure Python) against the ``range-coder`` C library:
                   identical bytes for random symbol runs (totals up to 2^24), identical symbols decoded from
                   the library's streams and from random garbage;
* ``graphs``       the integer network semantics of D.6 against ``ExactGraph`` on random and saturating inputs;
* ``layout``       the feature and channel-group headers a model implies (D.5.1, ``ps_model_layout_flag`` 1) as the
                   spec decoder derives them from the ``.npz`` + JSON, against ``icm.common.models.mfc.model_layout``
                   (``--full``: every shipped model);
* ``crc32``        the CRC-32 of D.7, written from its parameters, against ``zlib.crc32``;
* ``mfc_q3``/``mfc_q5``/``mfc_q6``  full decodes of the conformance streams by the independent decoder (weights read from
                   the ``.npz`` + JSON of ``dump_weights.py``), against the recorded MD5s and the streams' hashes;
                   every substream's values also against the code's entropy decoder given the same table indexes;
* ``colour``, ``resampler``  D.3 against ``icm.common.colour`` / ``icm.common.resample`` on random pictures;
* ``vvc_*``        the three VVC conformance streams (VVC decoded by ffmpeg, the rest by the spec decoder), when
                   ffmpeg (``imageio-ffmpeg``) is there;
* ``fma``          (``--full``) what a fused multiply-add in the feature dequantisation would change;
* ``ties``         (``--full``) how often the hyper-latent's round-half-even conversion meets a tie.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from . import spec_decoder as sd
from .dump_weights import convert

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = ROOT / "tests" / "data" / "conformance"
WEIGHTS = ROOT / "common" / "models" / "weights"
TABLES_DIGEST = "d5248c5adab054060d78f009940d39bcb3d734954b6a75764c9c1485212c6fcd"


def recorded_md5s() -> dict:
    import re

    text = (CONFORMANCE / "README.md").read_text()
    return dict(re.findall(r"^\| `([^`]+)\.icm` \|.*\| `([0-9a-f]{32})` \|$", text, re.M))


# -------------------------------------------------------------------------------------------------- entropy

def check_scales(full: bool) -> str:
    from icm.common.entropy.gaussian_tables import DEFAULT_SCALE_TABLE_Q16

    derived = sd.derive_scales()
    assert derived == list(sd.SCALES_Q16) == list(DEFAULT_SCALE_TABLE_Q16), "scale table differs"
    detail = "64 scales re-derived in float64, equal to the code's table"
    if full:
        import mpmath

        mpmath.mp.prec = 200
        a, b = mpmath.log(mpmath.mpf("0.11")), mpmath.log(256)
        exact = [65536 * mpmath.exp(a + (b - a) * j / 63) for j in range(64)]
        assert [int(mpmath.nint(v)) for v in exact] == derived
        margin = min(abs(float(v - mpmath.floor(v)) - 0.5) for v in exact)
        detail += f"; exactly too (closest value to a rounding tie: {margin:.4f} from it)"
    return detail


def _digest(arrays) -> str:
    h = hashlib.sha256()
    for arr in arrays:
        arr = np.asarray(arr, dtype="<i8")
        h.update(len(arr).to_bytes(4, "little"))
        h.update(arr.tobytes())
    return h.hexdigest()


def check_tables(full: bool) -> str:
    from icm.common.entropy.gaussian_tables import gaussian_table_set

    code = gaussian_table_set()
    mine = [sd.gaussian_table(j) for j in range(64)]
    for j, (cdf, low, shift) in enumerate(mine):
        assert [int(v) for v in code.cdfs[j]] == list(cdf), f"table {j} differs"
        assert (int(code.lows[j]), int(code.shifts[j])) == (low, shift), f"table {j} layout differs"
    digest = _digest([list(c) for c, _, _ in mine] + [[t[1] for t in mine], [t[2] for t in mine]])
    assert digest == TABLES_DIGEST, "digest differs"
    symbols = sum(len(c) - 1 for c, _, _ in mine)
    detail = f"64 tables ({symbols} symbols) rebuilt from the integer rules, equal to the code's; digest {digest[:16]}"
    if full:
        import mpmath

        mpmath.mp.prec = 200
        edges = saturated = 0
        for s in sd.SCALES_Q16:
            bins, shift, low = sd.gaussian_layout(s)
            for q in range(bins + 1):
                num = (2 * (low + (q << shift)) - 1) << 15
                exact = int(mpmath.floor(mpmath.ncdf(mpmath.mpf(num) / s) * mpmath.mpf(2) ** 40))
                reference = sd.phi_fixed(num, s) >> 24
                if (16 * abs(num) + s) // (2 * s) > 64:  # beyond 8.0625: the reference saturates
                    saturated += 1
                    assert reference == (1 << 40 if num > 0 else 0)
                else:
                    assert reference == exact, f"edge {num}/{s}"
                edges += 1
        detail += (f"; all {edges} edge values equal floor(2^40 Phi(x)) computed with 200 bits, except the "
                   f"{saturated} beyond |x| > 8.0625, where the reference saturates")
    return detail


def check_escape(full: bool) -> str:
    from icm.common.entropy.escape import BIT_CDF, PREFIX_CDF

    assert list(map(int, PREFIX_CDF)) == sd.PREFIX_CDF and list(map(int, BIT_CDF)) == sd.BIT_CDF
    return f"prefix table {sd.PREFIX_CDF[:5]}..{sd.PREFIX_CDF[-2:]} equal to the code's"


def _random_runs(rng: random.Random):
    runs = []
    for _ in range(rng.randint(0, 5)):
        n = rng.randint(1, 12) if rng.random() < 0.5 else rng.randint(1, 1024)
        total = max(n, rng.choice([1 << 16, rng.randint(n, 1 << 16), rng.randint(n, 1 << 24)]))
        cdf = [0] + (sorted(rng.sample(range(1, total), n - 1)) if n > 1 else []) + [total]
        symbols = [min(n - 1, int(rng.expovariate(0.5))) if rng.random() < 0.5 else rng.randrange(n)
                   for _ in range(rng.randint(0, 300))]
        runs.append((symbols, cdf))
    return runs


def check_range_coder(full: bool) -> str:
    import range_coder

    rng = random.Random(13)
    trials = 400 if full else 60
    with tempfile.TemporaryDirectory() as folder:
        for trial in range(trials):
            runs = _random_runs(rng)
            if trial % 4 == 0:  # long runs of a likely symbol: carries and 0xFF runs
                runs.append(([0 if rng.random() < 0.97 else 1 for _ in range(400)], [0, 65000, 65536]))
            path = os.path.join(folder, f"{trial}.bin")
            encoder = range_coder.RangeEncoder(path)
            for symbols, cdf in runs:
                encoder.encode(symbols, cdf)
            encoder.close()
            library = Path(path).read_bytes()
            mine = sd.RangeEncoder()
            for symbols, cdf in runs:
                for s in symbols:
                    mine.encode(s, cdf)
            assert mine.finish() == library, f"trial {trial}: encoder bytes differ"
            decoder = sd.RangeDecoder(library)
            for symbols, cdf in runs:
                assert [decoder.decode(cdf) for _ in symbols] == symbols, f"trial {trial}: decoded symbols differ"
            garbage = bytes(rng.randrange(256) for _ in range(rng.randint(0, 24)))
            gpath = os.path.join(folder, f"{trial}.garbage")
            Path(gpath).write_bytes(garbage)
            theirs, mine_d = range_coder.RangeDecoder(gpath), sd.RangeDecoder(garbage)
            for symbols, cdf in runs:
                if len(cdf) <= 1025:
                    assert theirs.decode(len(symbols), cdf) == [mine_d.decode(cdf) for _ in symbols], \
                        f"trial {trial}: garbage decodes differently"
            theirs.close()
    return f"{trials} random streams: same bytes as the C library, same symbols back, same symbols from garbage"


# -------------------------------------------------------------------------------------------------- networks

def check_graphs(full: bool, model: sd.MfcModel) -> str:
    import torch

    from icm.common.layers.exact import ExactGraph, GraphSpec

    rng = np.random.default_rng(3)
    graphs = [("predictor", model.predictor_graph(), "predictor/exact/", (96, 10, 10)),
              ("g_s", sd.synthesis_graph(model.codecs[0]), "codecs/0/g_s/", (64, 10, 10)),
              ("h_s", sd.hyper_synthesis_graph(model.codecs[0]), "codecs/0/h_s/", (32, 5, 5))]
    for name, graph, prefix, shape in graphs:
        weights = model.sub(prefix)
        exact = ExactGraph(GraphSpec.from_dict(graph))
        exact.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        for amplitude in (2000, sd.ACT_LIMIT):  # ordinary values, then values that saturate
            x = rng.integers(-amplitude, amplitude + 1, size=shape).astype(np.int64)
            mine = sd.run_graph(graph, weights, [x])
            theirs = exact(torch.from_numpy(x.astype(np.float64))[None])[0].numpy()
            assert np.array_equal(mine, theirs.astype(np.int64)), f"{name} differs"
    g1 = sd.parameter_graph(model.codecs[0], 1)
    weights = model.sub("codecs/0/e/1/")
    exact = ExactGraph(GraphSpec.from_dict(g1))
    exact.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    hyper = rng.integers(-5000, 5000, size=(64, 10, 10)).astype(np.int64)
    prev = rng.integers(-sd.ACT_LIMIT, sd.ACT_LIMIT, size=(4, 10, 10)).astype(np.int64)
    theirs = exact(torch.from_numpy(hyper.astype(np.float64))[None], torch.from_numpy(prev.astype(np.float64))[None])
    assert np.array_equal(sd.run_graph(g1, weights, [hyper, prev]), theirs[0].numpy().astype(np.int64))
    return "predictor, g_s, h_s, e_1 of mfc_q3: the D.6 integer semantics equal ExactGraph, saturation included"


# -------------------------------------------------------------------------------------------------- streams

def check_layout(full: bool, models: dict) -> str:
    from icm.common.models.mfc import load_runtime, model_layout

    for name, model in models.items():
        runtime = load_runtime(WEIGHTS / f"{name}.pt")
        fh, cgs = model_layout(runtime)
        mine_fh, mine_cgs = model.layout()
        assert mine_fh["tensors"] == fh["tensors"], f"{name}: feature header differs"
        theirs = [{"cg_tensor_id": cg["cg_tensor_id"], "cg_num_channels": cg["cg_num_channels"],
                   "cg_group_size": [g["cg_group_size"] for g in cg["groups"]],
                   "cg_scale": [float(np.float32(g["cg_scale"])) for g in cg["groups"]],
                   "cg_offset": [0.0] * cg["cg_num_groups"], "cg_channel_index": None} for cg in cgs]
        assert not any(cg["cg_offset_flag"] or cg["cg_channel_order_flag"] for cg in cgs), f"{name}: flags"
        assert mine_cgs == theirs, f"{name}: channel-group headers differ"
        assert model.model_hash == int.from_bytes(hashlib.sha256((WEIGHTS / f"{name}.pt").read_bytes())
                                                  .digest()[:4], "big"), f"{name}: model hash"
    return (f"{len(models)} models: the headers of ps_model_layout_flag 1 derived by the rule of D.5.1 equal "
            "model_layout(); ps_model_hash from the JSON's sha256")


def check_crc32(full: bool) -> str:
    import zlib

    assert sd.crc32(b"123456789") == 0xCBF43926
    rng = random.Random(17)
    for n in [0, 1, 3, 4, 255, 1000] + [rng.randint(0, 5000) for _ in range(20 if full else 5)]:
        data = bytes(rng.randrange(256) for _ in range(n))
        assert sd.crc32(data) == zlib.crc32(data), f"{n} bytes"
    return "CRC-32 from the parameters of D.7 equals zlib.crc32 (check value 0xCBF43926)"


def check_mfc(name: str, model: sd.MfcModel) -> str:
    from icm.common.entropy.gaussian_tables import gaussian_table_set
    from icm.common.entropy.indexed_coder import TableSet, decode_indexed

    data = (CONFORMANCE / f"{name}.icm").read_bytes()
    stream = sd.parse(data)
    substreams = []
    start = time.perf_counter()
    out = sd.decode_mfc(stream, model, trace=lambda *args: substreams.append(args))
    seconds = time.perf_counter() - start
    md5 = sd.output_md5(out, stream)
    assert md5 == recorded_md5s()[name], f"{name}: MD5 {md5}"
    sd.check_hash(out, stream)
    # every substream's values, decoded again by the code (icm.common.entropy) with the same table indexes
    tables = {}
    for index, codec in enumerate(model.codecs):
        prior = model.sub(f"codecs/{index}/prior/")
        cdfs = [prior["_quantized_cdf"][c, :prior["_cdf_length"][c]] for c in range(len(prior["_offset"]))]
        tables[codec["tensor_id"]] = TableSet.build(cdfs, prior["_offset"])
    values = 0
    for tensor_id, index, idx, mine in substreams:
        table_set = tables[tensor_id] if index == 0 else gaussian_table_set()
        theirs = decode_indexed(sd.substream(stream, tensor_id, index), np.array(idx), table_set)
        assert list(map(int, theirs)) == mine, f"substream {index} of tensor {tensor_id} differs"
        values += len(mine)
    first = next(v for t, i, _, v in substreams if i == 1)[:12]
    return (f"independent decode in {seconds:.2f} s: MD5 {md5} = recorded; its {len(substreams)} substreams "
            f"({values} values) equal the code's decode (group 0 starts {first})")


def find_ffmpeg() -> str | None:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # noqa: BLE001 - no ffmpeg: the check is skipped
        return None


def check_vvc(name: str, ffmpeg: str) -> str:
    stream = sd.parse((CONFORMANCE / f"{name}.icm").read_bytes())
    tool = stream["ps"]["ps_tool_id"]
    out = sd.decode_vvc_image(stream, ffmpeg) if tool in (0, 4) else sd.decode_vvc_feature(stream, ffmpeg)
    md5 = sd.output_md5(out, stream)
    assert md5 == recorded_md5s()[name], f"{name}: MD5 {md5}"
    sd.check_hash(out, stream)
    return f"VVC by ffmpeg, everything after it by the spec decoder: MD5 {md5} = recorded"


def check_colour(full: bool) -> str:
    from icm.common.colour import coefficient_tables, yuv420_to_rgb

    rng = np.random.default_rng(5)
    for (matrix_idc, full_range), (rows, y_off, c_off) in sd.INVERSE_10BIT.items():
        tables = coefficient_tables(10, {1: "bt601", 2: "bt709"}[matrix_idc], bool(full_range))
        assert tables["inverse"] == rows and (tables["y_off"], tables["c_off"]) == (y_off, c_off)
        assert tables["inverse"] == _inverse_rows(matrix_idc, full_range)
        for h, w in ((1, 1), (5, 7), (16, 9), (33, 64)):
            y = rng.integers(0, 1024, (h, w))
            u, v = (rng.integers(0, 1024, ((h + 1) // 2, (w + 1) // 2)) for _ in range(2))
            theirs = yuv420_to_rgb(y.astype(np.uint16), u.astype(np.uint16), v.astype(np.uint16), 10,
                                   {1: "bt601", 2: "bt709"}[matrix_idc], bool(full_range))
            assert np.array_equal(sd.yuv_to_rgb(y, u, v, matrix_idc, full_range), theirs)
    return "4 inverse tables re-derived from the rules of D.3.2 (exact rationals); conversions equal the code's"


def _inverse_rows(matrix_idc: int, full_range: int):
    kr, kb = {1: (Fraction("0.299"), Fraction("0.114")), 2: (Fraction("0.2126"), Fraction("0.0722"))}[matrix_idc]
    kg = 1 - kr - kb
    y_scale, c_scale = ((Fraction(1023, 255),) * 2 if full_range else (Fraction(219 * 4, 255), Fraction(224 * 4, 255)))

    def q(x: Fraction) -> int:  # round half away from zero at scale 2^16
        x *= 65536
        return int(x + Fraction(1, 2)) if x >= 0 else -int(-x + Fraction(1, 2))

    cb, cr = 2 * (1 - kb), 2 * (1 - kr)
    iy = q(1 / y_scale)
    return ((iy, 0, q(cr / c_scale)), (iy, q(-kb * cb / (kg * c_scale)), q(-kr * cr / (kg * c_scale))),
            (iy, q(cb / c_scale), 0))


def check_resampler(full: bool) -> str:
    from icm.common.resample import filter_taps, resize_rgb

    rng = np.random.default_rng(7)
    sizes = [(64, 128), (48, 96), (320, 640), (426, 320), (23, 24), (48, 32), (7, 3), (1, 5), (100, 99)]
    differ_exact = 0
    for n_in, n_out in sizes:
        for name in ("bicubic", "bilinear"):
            dense = np.zeros((n_in, n_out), np.int64)
            for xx, (xmin, taps) in enumerate(sd.resample_taps(n_in, n_out, name)):
                dense[xmin:xmin + len(taps), xx] = taps
            assert np.array_equal(dense, filter_taps(n_in, n_out, name)), f"{name} {n_in}->{n_out}"
            if full:
                differ_exact += _taps_differ_from_rationals(n_in, n_out, name)
    for (h, w), (oh, ow) in (((48, 64), (96, 128)), ((23, 48), (32, 24)), ((9, 5), (4, 11))):
        rgb = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
        for name in ("bicubic", "bilinear"):
            assert np.array_equal(sd.resample_rgb(rgb, ow, oh, name), resize_rgb(rgb, ow, oh, name))
    detail = f"taps for {len(sizes)} size pairs and 6 resizes equal Pillow's (through icm.common.resample)"
    if full:
        detail += f"; {differ_exact} taps would differ if computed with exact rationals instead of doubles"
    return detail


def _taps_differ_from_rationals(n_in: int, n_out: int, name: str) -> int:
    a = Fraction(-1, 2)

    def kernel(x: Fraction) -> Fraction:
        x = abs(x)
        if name == "bilinear":
            return 1 - x if x < 1 else Fraction(0)
        if x < 1:
            return ((a + 2) * x - (a + 3)) * x * x + 1
        if x < 2:
            return (((x - 5) * x + 8) * x - 4) * a
        return Fraction(0)

    scale = Fraction(n_in, n_out)
    fs = max(scale, Fraction(1))
    differ = 0
    for xx, (xmin, taps) in enumerate(sd.resample_taps(n_in, n_out, name)):
        center = (xx + Fraction(1, 2)) * scale
        ks = [kernel((x + xmin - center + Fraction(1, 2)) / fs) for x in range(len(taps))]
        total = sum(ks)
        exact = [(k / total if total else k) * 4194304 for k in ks]
        exact = [-((-e + Fraction(1, 2)) // 1) if e < 0 else (e + Fraction(1, 2)) // 1 for e in exact]
        differ += sum(1 for e, t in zip(exact, taps) if e != t)
    return differ


def check_fma(ffmpeg: str) -> str:
    stream = sd.parse((CONFORMANCE / "vvc_feature_qp37.icm").read_bytes())
    changed, total, md5 = 0, 0, hashlib.md5()
    for t in stream["fh"]["tensors"]:
        c, h, w, cols = t["fh_channels"], t["fh_height"], t["fh_width"], t["fh_tile_columns"]
        rows = -(-c // cols)
        y, _, _ = sd.decode_vvc(sd.inner_payload(stream, t["fh_tensor_id"]), cols * w, rows * h, ffmpeg)
        s = y.reshape(rows, h, cols, w).transpose(0, 2, 1, 3).reshape(rows * cols, h, w)[:c]
        normative = sd.dequantise(s, t["fh_min_value"], t["fh_max_value"], t["fh_quant_bit_depth_minus1"] + 1)
        low, high = np.float32(t["fh_min_value"]), np.float32(t["fh_max_value"])
        step = np.float32(np.float32(high - low) / np.float32((1 << (t["fh_quant_bit_depth_minus1"] + 1)) - 1))
        fused = np.array([_round_f32(Fraction(int(v)) * Fraction(float(step)) + Fraction(float(low)))
                          for v in s.reshape(-1)], np.float32).reshape(s.shape)
        changed += int(np.sum(fused != normative))
        total += s.size
        md5.update(fused.astype("<f4").tobytes())
    return (f"a fused multiply-add would change {changed} of {total} samples and the MD5 "
            f"(to {md5.hexdigest()}): not allowed")


def _round_f32(x: Fraction) -> float:
    """x rounded once to binary32 (nearest, ties to even)."""
    f = np.float32(float(x))
    best = None
    for cand in (np.nextafter(f, np.float32(-np.inf)), f, np.nextafter(f, np.float32(np.inf))):
        d = abs(Fraction(float(cand)) - x)
        even = int(np.float32(cand).view(np.uint32)) % 2 == 0
        if best is None or d < best[0] or (d == best[0] and even):
            best = (d, cand)
    return float(best[1])


def check_ties(models: dict) -> str:
    ties = values = differ = 0
    for name, model in models.items():
        for index in range(len(model.codecs)):
            prior = model.sub(f"codecs/{index}/prior/")
            for ch, median in enumerate(prior["_medians"].astype(np.float32)):
                low, n = int(prior["_offset"][ch]), int(prior["_cdf_length"][ch]) - 2
                s = np.arange(low, low + n, dtype=np.float32)
                z = (s + median).astype(np.float64) * 1024.0
                ties += int(np.sum(z - np.floor(z) == 0.5))
                exact = np.array([float((Fraction(int(v)) + Fraction(float(median))) * 1024) for v in s])
                differ += int(np.sum(np.round(z) != np.floor(exact + 0.5)))
                values += n
    return (f"{values} in-table hyper-latent values of {len(models)} models: {ties} ties for the round-half-even "
            f"rule, {differ} values where fl32(s + median) rounds differently from the exact s + median")


# -------------------------------------------------------------------------------------------------- driver

def models_from_pt(names, folder: Path) -> dict:
    out = {}
    for name in names:
        stem = folder / name
        convert(WEIGHTS / f"{name}.pt", stem)
        out[name] = sd.MfcModel(stem)
    return out


def run(full: bool = False, report=print) -> list[tuple[str, bool, str]]:
    results = []

    def step(name: str, fn, *args) -> None:
        start = time.perf_counter()
        try:
            detail, ok = fn(*args), True
        except (AssertionError, sd.SpecError) as error:
            detail, ok = f"FAILED: {type(error).__name__}: {error}", False
        results.append((name, ok, detail))
        report(f"{'ok  ' if ok else 'FAIL'} {name:12s} {detail} ({time.perf_counter() - start:.1f} s)")

    step("scales", check_scales, full)
    step("tables", check_tables, full)
    step("escape", check_escape, full)
    step("range-coder", check_range_coder, full)
    step("crc32", check_crc32, full)
    with tempfile.TemporaryDirectory() as folder:
        names = sorted(p.stem for p in WEIGHTS.glob("mfc*.pt")) if full else ["mfc_q3", "mfc_q5", "mfc_q6"]
        models = models_from_pt(names, Path(folder))
        step("graphs", check_graphs, full, models["mfc_q3"])
        step("layout", check_layout, full, models)
        step("mfc_q3", check_mfc, "mfc_q3", models["mfc_q3"])
        step("mfc_q5", check_mfc, "mfc_q5", models["mfc_q5"])
        step("mfc_q6", check_mfc, "mfc_q6", models["mfc_q6"])
        if full:
            step("ties", check_ties, models)
    step("colour", check_colour, full)
    step("resampler", check_resampler, full)
    ffmpeg = find_ffmpeg()
    if ffmpeg is None:
        report("skip vvc_*: no ffmpeg (imageio-ffmpeg)")
    else:
        for name in ("vvc_image_qp32_128x96", "vvc_image_resampled_0.5_qp27", "vvc_feature_qp37",
                     "npp_vvc_qp37_128x96"):
            step(name, check_vvc, name, ffmpeg)
        if full:
            step("fma", check_fma, ffmpeg)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="also the slow exact-math cross-checks")
    args = parser.parse_args(argv)
    results = run(args.full)
    failed = [name for name, ok, _ in results if not ok]
    print(f"{len(results) - len(failed)} of {len(results)} checks passed" + (f"; failed: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
