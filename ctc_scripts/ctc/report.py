"""Tables and plots of a CTC, rebuilt from the per-image records alone.

``build_report(folder)`` reads ``run.json`` and every point's records and writes, in the results folder:

* ``points.csv``: one row per point (CTC style: dataset, codec, qp, images, bits, bpp, mAP, mAP50, encode s,
  decode s, task s, plus the confidence intervals, task fidelity, segmentation mAP, kMAC/pixel and the
  Pareto / monotonic view);
* ``summary.csv``: BD-rate and BD-accuracy of every codec against each anchor (both methods, intervals);
* ``report.md``: the same as Markdown tables; ``report.json``: everything, machine-readable;
* ``rd.png``: accuracy (and task fidelity) against bpp, one curve per codec.

Nothing here encodes or decodes: the numbers depend only on the records, so a resumed run ends with the
same tables as an uninterrupted one. ``compare_runs`` compares two results folders.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from ...common.errors import IcmError, InputError, OutputError
from ...common.fileio import write_bytes_atomically, write_json_atomically
from . import bd as bdlib
from .config import CtcConfig, config_from_dict
from .dataset import Dataset
from .fidelity import reference_ground_truth
from .metrics import CocoScores, has_segmentation, load_ground_truth
from .records import COMPLEXITY_FILE, RUN_FILE, point_dir, point_name, read_record
from .stats import bootstrap_weights, isotonic_fit, pareto_mask, percentile_interval

POINT_COLUMNS = ["dataset", "codec", "tool", "qp", "quality", "images", "bits", "bpp", "mAP", "mAP50",
                 "mAP_ci_low", "mAP_ci_high", "mAP50_ci_low", "mAP50_ci_high", "fidelity", "fidelity_ci_low",
                 "fidelity_ci_high", "segm_mAP", "segm_mAP50", "pareto", "mAP_monotonic", "encode_s", "decode_s",
                 "task_s", "encode_kmac_px", "decode_kmac_px", "task_kmac_px"]
SUMMARY_COLUMNS = ["dataset", "codec", "anchor", "metric", "method", "bd_rate", "bd_rate_ci_low", "bd_rate_ci_high",
                   "bd_metric", "bd_metric_ci_low", "bd_metric_ci_high", "overlap", "replicates", "warnings"]


class IncompleteError(IcmError):
    """A point whose records are missing: the run has not finished."""

    exit_code = 3


def load_run(folder: str | Path) -> tuple[CtcConfig, Dataset, dict]:
    folder = Path(folder)
    path = folder / RUN_FILE
    if not path.is_file():
        raise InputError(f"{folder} is not a CTC results folder (no {RUN_FILE})")
    try:
        values = json.loads(path.read_text())
        return config_from_dict(values["config"]), Dataset.from_dict(values["dataset"]), values["keys"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None


def collect_records(folder: Path, config: CtcConfig, dataset: Dataset, keys: dict) -> dict:
    """``{point name: {"codec", "qp", "records": [per image], "complexity"}}``; IncompleteError if any is missing."""
    points, missing = {}, []
    for codec, qp in config.points():
        name = point_name(codec, qp)
        key = keys.get(name)
        directory = point_dir(folder, codec, qp)
        records = [read_record(directory / (Path(f).stem + ".json"), key) for f in dataset.files]
        complexity = read_record(directory / COMPLEXITY_FILE, key)
        absent = sum(r is None for r in records) + (complexity is None)
        if absent:
            missing.append(f"{name} ({len(dataset) - sum(r is None for r in records)}/{len(dataset)} images)")
            continue
        points[name] = {"codec": codec, "qp": qp, "records": records, "complexity": complexity}
    if missing:
        raise IncompleteError(f"unfinished points: {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}; "
                              f"run 'icm-ctc run' to finish them")
    return points


def _results(records: list[dict]) -> list[dict]:
    return [detection for record in records for detection in record["detections"]]


def _pct(value) -> float:
    return 100.0 * value if value is not None and math.isfinite(value) else float("nan")


def evaluate_run(folder: str | Path, bootstrap: int | None = None, codecs: list[str] | None = None) -> dict:
    """Everything the report shows, as a JSON-able mapping (of the codecs ``codecs`` only, if given)."""
    folder = Path(folder)
    config, dataset, keys = load_run(folder)
    config = config.select(codecs, keep_reference=True)  # fidelity needs the reference's detections
    points = collect_records(folder, config, dataset, keys)
    stats = config.statistics
    replicates = stats.bootstrap if bootstrap is None else bootstrap
    n_images = len(dataset)
    weights = bootstrap_weights(n_images, replicates, stats.seed) if replicates else np.zeros((0, n_images))
    ground_truth = load_ground_truth(dataset.annotations) if dataset.annotations else None
    segmentation_file = dataset.segmentation_annotations or (
        dataset.annotations if has_segmentation(dataset.annotations) else None)
    segmentation_gt = load_ground_truth(segmentation_file) if segmentation_file else None
    fidelity_gt = None
    if config.reference:
        reference = points[point_name(config.codec(config.reference), None)]["records"]
        fidelity_gt = load_ground_truth(reference_ground_truth(
            {r["image_id"]: r for r in reference}, stats.fidelity_threshold))

    rows, samples = [], {}
    for name, point in points.items():
        codec, records = point["codec"], point["records"]
        bits = np.array([r["bits"] for r in records], float)
        pixels = np.array([r["width"] * r["height"] for r in records], float)
        row = {"dataset": dataset.name, "codec": codec.name, "label": codec.label or codec.name, "tool": codec.tool,
               "qp": point["qp"] if codec.parameter == "qp" else None,
               "quality": point["qp"] if codec.parameter == "quality" else None, "point": name,
               "images": len(records), "bits": int(bits.sum()),
               "bpp": float(bits.sum() / pixels.sum()) if codec.coded else None,
               "encode_s": float(np.mean([r["encode_s"] for r in records])),
               "decode_s": float(np.mean([r["decode_s"] for r in records])),
               "task_s": float(np.mean([r["task_s"] for r in records]))}
        complexity = point["complexity"]
        area = complexity["width"] * complexity["height"]
        for part in ("encode", "decode", "task"):
            row[f"{part}_kmac_px"] = complexity[f"{part}_macs"] / 1000.0 / area
        sample = {"bpp": (weights @ bits) / (weights @ pixels) if replicates else None}
        results = _results(records)
        for metric, truth, kind in (("", ground_truth, "bbox"), ("fidelity", fidelity_gt, "bbox"),
                                    ("segm_", segmentation_gt, "segm")):
            if truth is None:
                continue
            if kind == "segm" and not any("segmentation" in d for d in results):
                continue
            ids = [i for i in dataset.image_ids if i in set(truth.getImgIds())]
            columns = [dataset.image_ids.index(i) for i in ids]
            scores = CocoScores(truth, results, ids, iou_type=kind)
            value = scores.scores()
            boot = scores.bootstrap(weights[:, columns]) if replicates else None
            if metric == "fidelity":
                row["fidelity"] = _pct(value["mAP"])
                row["fidelity50"] = _pct(value["mAP50"])
                if boot is not None:
                    sample["fidelity"] = 100 * boot["mAP"]
                    row["fidelity_ci"] = percentile_interval(sample["fidelity"], stats.confidence, row["fidelity"])
            else:
                row[f"{metric}mAP"], row[f"{metric}mAP50"] = _pct(value["mAP"]), _pct(value["mAP50"])
                if boot is not None:
                    sample[f"{metric}mAP"], sample[f"{metric}mAP50"] = 100 * boot["mAP"], 100 * boot["mAP50"]
                    row[f"{metric}mAP_ci"] = percentile_interval(sample[f"{metric}mAP"], stats.confidence,
                                                                 row[f"{metric}mAP"])
                    row[f"{metric}mAP50_ci"] = percentile_interval(sample[f"{metric}mAP50"], stats.confidence,
                                                                   row[f"{metric}mAP50"])
        rows.append(row)
        samples[name] = sample

    # The monotonic view of every coded curve.
    for codec in config.codecs:
        if not codec.coded:
            continue
        mine = [r for r in rows if r["codec"] == codec.name]
        for metric in ("mAP", "fidelity"):
            if metric in mine[0]:
                rates, values = [r["bpp"] for r in mine], [r[metric] for r in mine]
                for r, keep, fit in zip(mine, pareto_mask(rates, values), isotonic_fit(rates, values)):
                    r[f"{metric}_pareto"], r[f"{metric}_monotonic"] = bool(keep), float(fit)

    bd_rows = _bd_rows(config, dataset, rows, samples)
    warnings = [f"{b['codec']} vs {b['anchor']} ({b['metric']}, {b['method']}): {w}"
                for b in bd_rows for w in b["warnings"]]
    inner = dict(config.inner)
    return {"name": config.name, "dataset": dataset.name, "images": n_images, "task_network": config.task_network,
            "task_input_size": config.task_input_size, "device": config.device,
            "inner": inner, "codecs": [{"name": c.name, "tool": c.tool, "qps": c.qps, "resample": c.resample,
                                        "label": c.label or c.name, "inner": {**inner, **c.inner}}
                                       for c in config.codecs],
            "bootstrap": replicates, "confidence": stats.confidence, "seed": stats.seed,
            "fidelity_threshold": stats.fidelity_threshold, "reference": config.reference,
            "anchors": config.anchors, "points": rows, "bd": bd_rows, "warnings": warnings}


def _bd_rows(config: CtcConfig, dataset: Dataset, rows: list[dict], samples: dict) -> list[dict]:
    out = []
    stats = config.statistics
    metrics = [m for m in ("mAP", "mAP50", "fidelity") if any(m in r for r in rows)]
    for anchor in config.anchors:
        anchor_rows = [r for r in rows if r["codec"] == anchor]
        for codec in config.codecs:
            if not codec.coded or codec.name == anchor:
                continue
            test_rows = [r for r in rows if r["codec"] == codec.name]
            for metric in metrics:
                for method in config.bd.methods:
                    args = ([r["bpp"] for r in anchor_rows], [r[metric] for r in anchor_rows],
                            [r["bpp"] for r in test_rows], [r[metric] for r in test_rows])
                    rate = bdlib.bd_rate_detail(*args, method=method, min_overlap=config.bd.min_overlap)
                    value = bdlib.bd_metric_detail(*args, method=method, min_overlap=config.bd.min_overlap)
                    entry = {"dataset": dataset.name, "codec": codec.name, "anchor": anchor, "metric": metric,
                             "method": method, "bd_rate": rate.value, "bd_metric": value.value,
                             "overlap": rate.overlap, "warnings": sorted(set(rate.warnings + value.warnings)),
                             "replicates": 0}
                    keys_a = [r["point"] for r in anchor_rows]
                    keys_t = [r["point"] for r in test_rows]
                    if samples[keys_a[0]].get("bpp") is not None and metric in samples[keys_a[0]]:
                        rates_b, values_b = _bootstrap_bd(samples, keys_a, keys_t, metric, method)
                        entry["bd_rate_ci"] = percentile_interval(rates_b, stats.confidence, rate.value)
                        entry["bd_metric_ci"] = percentile_interval(values_b, stats.confidence, value.value)
                        entry["replicates"] = int(np.isfinite(rates_b).sum())
                    out.append(entry)
    return out


def _bootstrap_bd(samples: dict, keys_a: list[str], keys_t: list[str], metric: str, method: str):
    rate_a = np.stack([samples[k]["bpp"] for k in keys_a], axis=1)
    rate_t = np.stack([samples[k]["bpp"] for k in keys_t], axis=1)
    acc_a = np.stack([samples[k][metric] for k in keys_a], axis=1)
    acc_t = np.stack([samples[k][metric] for k in keys_t], axis=1)
    rates, values = np.full(len(rate_a), np.nan), np.full(len(rate_a), np.nan)
    for b in range(len(rate_a)):
        args = (rate_a[b], acc_a[b], rate_t[b], acc_t[b])
        rates[b] = bdlib.bd_rate_detail(*args, method=method, min_overlap=0.0).value
        values[b] = bdlib.bd_metric_detail(*args, method=method, min_overlap=0.0).value
    return rates, values


# -- writing ---------------------------------------------------------------------------------------


def _fmt(value, digits: int) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, str)):
        return str(value)
    return f"{value:.{digits}f}"


def points_csv(report: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(POINT_COLUMNS)
    digits = {"bpp": 6, "encode_s": 4, "decode_s": 4, "task_s": 4, "encode_kmac_px": 3, "decode_kmac_px": 3,
              "task_kmac_px": 3}
    for row in report["points"]:
        flat = dict(row)
        for metric in ("mAP", "mAP50", "fidelity"):
            low, high = row.get(f"{metric}_ci", (None, None))
            flat[f"{metric}_ci_low"], flat[f"{metric}_ci_high"] = low, high
        flat["pareto"] = row.get("mAP_pareto", row.get("fidelity_pareto"))
        writer.writerow([_fmt(flat.get(c), digits.get(c, 3)) for c in POINT_COLUMNS])
    return buffer.getvalue()


def summary_csv(report: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SUMMARY_COLUMNS)
    for row in report["bd"]:
        flat = dict(row)
        for name in ("bd_rate", "bd_metric"):
            low, high = row.get(f"{name}_ci", (None, None))
            flat[f"{name}_ci_low"], flat[f"{name}_ci_high"] = low, high
        flat["warnings"] = "; ".join(row["warnings"])
        writer.writerow([flat["warnings"] if c == "warnings" else _fmt(flat.get(c), 3) for c in SUMMARY_COLUMNS])
    return buffer.getvalue()


def _ci(row: dict, metric: str, digits: int = 1) -> str:
    value = row.get(metric)
    if value is None or not math.isfinite(value):
        return "-"
    low, high = row.get(f"{metric}_ci", (None, None))
    if low is None or not math.isfinite(low):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def markdown(report: dict) -> str:
    confidence = round(100 * report["confidence"])
    presets = sorted({c["inner"].get("preset", "medium") for c in report["codecs"] if c["tool"] != "uncompressed"})
    lines = [f"### CTC `{report['name']}`: {report['dataset']} ({report['images']} images), "
             f"{report['task_network']} at {report['task_input_size']}x{report['task_input_size']}",
             "",
             f"Device {report['device']}; VVenC preset {', '.join(presets) or '-'}; {report['bootstrap']} bootstrap "
             f"replicates (images resampled), {confidence} % intervals in brackets; task fidelity = mAP@[.5:.95] "
             f"against the detections on the original (score >= {report['fidelity_threshold']}). Times are seconds "
             f"per image; kMAC/px per pixel of the original picture (encoder / decoder / task network).",
             "",
             "| codec | QP | bpp | mAP@[.5:.95] | mAP@0.5 | fidelity | Pareto | monotonic mAP | encode s | decode s "
             "| task s | kMAC/px enc / dec / task |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in report["points"]:
        segm = f" (segm {row['segm_mAP']:.1f})" if row.get("segm_mAP") is not None else ""
        lines.append(
            f"| {row['label']} | {_rate_point(row)} | "
            f"{_fmt(row['bpp'], 4) or '-'} | {_ci(row, 'mAP')}{segm} | {_ci(row, 'mAP50')} | "
            f"{_ci(row, 'fidelity')} | {_fmt(row.get('mAP_pareto'), 0) or '-'} | "
            f"{_fmt(row.get('mAP_monotonic'), 1) or '-'} | {row['encode_s']:.3f} | {row['decode_s']:.3f} | "
            f"{row['task_s']:.3f} | {row['encode_kmac_px']:.2f} / {row['decode_kmac_px']:.2f} / "
            f"{row['task_kmac_px']:.2f} |")
    for anchor in report["anchors"]:
        entries = [b for b in report["bd"] if b["anchor"] == anchor]
        if not entries:
            continue
        lines += ["", f"BD against `{anchor}` (rate: bpp; BD-rate in %, negative = fewer bits at equal accuracy; "
                      f"BD-accuracy in points, positive = more accurate at equal rate):", "",
                  "| codec | metric | method | BD-rate % | BD-accuracy | overlap | warnings |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for b in entries:
            lines.append(f"| {b['codec']} | {b['metric']} | {b['method']} | {_ci(b, 'bd_rate')} | "
                         f"{_ci(b, 'bd_metric', 2)} | {100 * b['overlap']:.0f} % | {'; '.join(b['warnings']) or '-'} |")
    return "\n".join(lines) + "\n"


def _rate_point(row: dict) -> str:
    if row.get("qp") is not None:
        return str(row["qp"])
    return f"q{row['quality']}" if row.get("quality") is not None else "-"


def plot(report: dict, path: str | Path) -> None:
    """accuracy vs bpp (and fidelity vs bpp): one curve per codec, intervals as error bars, the monotonic
    (isotonic) fit dashed, the uncompressed accuracy as a horizontal line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    panels = [m for m in ("mAP", "fidelity") if any(m in r for r in report["points"])]
    figure, axes = plt.subplots(1, len(panels), figsize=(6.0 * len(panels), 4.4), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for axis, metric in zip(axes[0], panels):
        index = 0
        for codec in report["codecs"]:
            rows = [r for r in report["points"] if r["codec"] == codec["name"] and metric in r]
            if not rows:
                continue
            if codec["tool"] == "uncompressed":
                axis.axhline(rows[0][metric], color="0.3", linestyle=":", linewidth=1.2,
                             label=f"{codec['label']} ({rows[0][metric]:.1f})")
                low, high = rows[0].get(f"{metric}_ci", (None, None))
                if low is not None and math.isfinite(low) and metric == "mAP":
                    axis.axhspan(low, high, color="0.85", alpha=0.5, linewidth=0)
                continue
            colour = colours[index % len(colours)]
            index += 1
            rows = sorted(rows, key=lambda r: r["bpp"])
            x = [r["bpp"] for r in rows]
            y = [r[metric] for r in rows]
            ci = [r.get(f"{metric}_ci") for r in rows]
            if all(c is not None and math.isfinite(c[0]) for c in ci):
                err = np.array([[v - c[0] for v, c in zip(y, ci)], [c[1] - v for v, c in zip(y, ci)]])
                axis.errorbar(x, y, yerr=np.maximum(err, 0), fmt="o-", color=colour, capsize=3, markersize=4,
                              linewidth=1.2, label=codec["label"])
            else:
                axis.plot(x, y, "o-", color=colour, markersize=4, label=codec["label"])
            if f"{metric}_monotonic" in rows[0]:
                axis.plot(x, [r[f"{metric}_monotonic"] for r in rows], "--", color=colour, linewidth=0.8, alpha=0.7)
        axis.set_xscale("log")
        axis.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set_xlabel("bpp (bits per pixel of the original picture)")
        axis.set_ylabel("mAP@[.5:.95] (%)" if metric == "mAP" else "task fidelity (%)")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
        axis.set_title(f"{report['dataset']}, {report['task_network']} {report['task_input_size']}"
                       if metric == "mAP" else "fidelity to the detections on the original", fontsize=9)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    write_bytes_atomically(path, buffer.getvalue())


def build_report(folder: str | Path, bootstrap: int | None = None, make_plot: bool = True,
                 codecs: list[str] | None = None, output: str | Path | None = None) -> dict:
    """Evaluate the finished run in ``folder`` and write points.csv, summary.csv, report.md, report.json, rd.png
    there, or into ``output`` (e.g. for a report of some of its codecs, ``codecs``)."""
    target = Path(output) if output is not None else Path(folder)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the report folder {target}: {exc.strerror}") from None
    report = evaluate_run(folder, bootstrap=bootstrap, codecs=codecs)
    folder = target
    write_bytes_atomically(folder / "points.csv", points_csv(report).encode())
    write_bytes_atomically(folder / "summary.csv", summary_csv(report).encode())
    write_bytes_atomically(folder / "report.md", markdown(report).encode())
    write_json_atomically(folder / "report.json", _jsonable(report))
    if make_plot:
        plot(report, folder / "rd.png")
    return report


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


# -- comparing two runs --------------------------------------------------------------------------------


def load_report(folder: str | Path) -> dict:
    folder = Path(folder)
    path = folder / "report.json"
    if not path.is_file():
        return _jsonable(build_report(folder))
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None


def compare_runs(folder_a: str | Path, folder_b: str | Path) -> tuple[str, str]:
    """(Markdown, CSV) comparing run B with run A: per point the change of bpp and accuracy, per codec the
    BD-rate / BD-accuracy of B's curve against A's."""
    a, b = load_report(folder_a), load_report(folder_b)
    lines = [f"### Comparison: B = `{folder_b}` against A = `{folder_a}`", "",
             "| codec | QP | bpp A | bpp B | bpp change % | mAP A | mAP B | mAP change | fidelity A | fidelity B |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["codec", "qp", "bpp_a", "bpp_b", "mAP_a", "mAP_b", "fidelity_a", "fidelity_b"])

    def value(row, key):
        v = row.get(key) if row else None
        return v if isinstance(v, (int, float)) and v is not None and math.isfinite(v) else None

    def show(v, digits=1):
        return "-" if v is None else f"{v:.{digits}f}"

    rows_a = {(r["codec"], _rate_point(r)): r for r in a["points"]}
    rows_b = {(r["codec"], _rate_point(r)): r for r in b["points"]}
    for key in list(rows_a) + [k for k in rows_b if k not in rows_a]:
        ra, rb = rows_a.get(key), rows_b.get(key)
        bpp_a, bpp_b = value(ra, "bpp"), value(rb, "bpp")
        map_a, map_b = value(ra, "mAP"), value(rb, "mAP")
        change = f"{100 * (bpp_b / bpp_a - 1):+.1f}" if bpp_a and bpp_b else "-"
        delta = f"{map_b - map_a:+.2f}" if map_a is not None and map_b is not None else "-"
        lines.append(f"| {key[0]} | {key[1]} | {show(bpp_a, 4)} | {show(bpp_b, 4)} | "
                     f"{change} | {show(map_a)} | {show(map_b)} | {delta} | {show(value(ra, 'fidelity'))} | "
                     f"{show(value(rb, 'fidelity'))} |")
        writer.writerow([key[0], "" if key[1] == "-" else key[1], _fmt(bpp_a, 6), _fmt(bpp_b, 6), _fmt(map_a, 3),
                         _fmt(map_b, 3), _fmt(value(ra, "fidelity"), 3), _fmt(value(rb, "fidelity"), 3)])
    lines += ["", "BD of B's curve against A's, per codec (pchip; BD-rate %, BD-accuracy in points):", "",
              "| codec | BD-rate (mAP) | BD-mAP | BD-rate (fidelity) | BD-fidelity | warnings |",
              "| --- | --- | --- | --- | --- | --- |"]
    for codec in sorted({k[0] for k in rows_a} & {k[0] for k in rows_b}):
        ca = [r for r in a["points"] if r["codec"] == codec and value(r, "bpp")]
        cb = [r for r in b["points"] if r["codec"] == codec and value(r, "bpp")]
        if len(ca) < 2 or len(cb) < 2:
            continue
        cells, warns = [], []
        for metric in ("mAP", "fidelity"):
            if not all(value(r, metric) is not None for r in ca + cb):
                cells += ["-", "-"]
                continue
            args = ([r["bpp"] for r in ca], [r[metric] for r in ca], [r["bpp"] for r in cb], [r[metric] for r in cb])
            rate, acc = bdlib.bd_rate_detail(*args), bdlib.bd_metric_detail(*args)
            cells += [show(rate.value, 2), show(acc.value, 2)]
            warns += [f"{metric}: {w}" for w in sorted(set(rate.warnings + acc.warnings))]
        lines.append(f"| {codec} | {' | '.join(cells)} | {'; '.join(warns) or '-'} |")
    return "\n".join(lines) + "\n", buffer.getvalue()
