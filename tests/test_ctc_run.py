"""The whole CTC on the small configuration (3 images, VVenC preset faster): real encode/decode/task,
resume after an interruption, parallel jobs, reports, compare, and the errors that stop a run up front."""
import csv
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from icm.common.tasknet.coco_eval import evaluate_detections
from icm.ctc_scripts.ctc.cli import main as cli
from icm.ctc_scripts.ctc.config import load_ctc_config
from icm.ctc_scripts.ctc.report import IncompleteError, build_report, compare_runs
from icm.ctc_scripts.ctc.runner import run_ctc
from icm.decoder.pipeline import decode_bytes, read_bitstream_file
from icm.common.config import DecoderConfig

REPO = Path(__file__).resolve().parent.parent
SMALL = REPO / "cfg" / "ctc" / "small.yaml"
TIME_COLUMNS = {"encode_s", "decode_s", "task_s"}


def table(path: Path, drop=()):
    with open(path) as handle:
        rows = list(csv.DictReader(handle))
    return [{k: v for k, v in row.items() if k not in drop} for row in rows]


def record_files(folder: Path):
    return sorted((folder / "points").rglob("*.json"))


@pytest.fixture(scope="module")
def small_run(shared, tmp_path_factory):
    """The small CTC run once, uninterrupted."""
    folder = tmp_path_factory.mktemp("ctc") / "small"
    config = load_ctc_config(SMALL, output=str(folder))
    summary = run_ctc(config, progress=False)
    return folder, summary


def test_small_ctc_end_to_end(small_run):
    folder, summary = small_run
    assert summary.items == 5 * 3 + 5 and summary.computed == summary.items and summary.cached == 0
    for name in ("points.csv", "summary.csv", "report.md", "report.json", "rd.png", "run.json"):
        assert (folder / name).is_file(), name
    assert (folder / "rd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = table(folder / "points.csv")
    assert [(r["codec"], r["qp"]) for r in rows] == [("uncompressed", ""), ("vvc-image", "37"), ("vvc-image", "47"),
                                                     ("vvc-feature", "32"), ("vvc-feature", "42")]
    report = json.loads((folder / "report.json").read_text())
    run = json.loads((folder / "run.json").read_text())
    annotations = run["dataset"]["annotations"]
    ids = run["dataset"]["image_ids"]
    for point in report["points"]:
        codec, qp = point["codec"], point["qp"]
        directory = folder / "points" / codec / (f"qp{qp:02d}" if qp is not None else "original")
        records = [json.loads((directory / (Path(f).stem + ".json")).read_text()) for f in run["dataset"]["files"]]
        # bpp = all bits of all bitstream files / all pixels of the original pictures.
        if qp is not None:
            streams = [directory / r["bitstream"] for r in records]
            bits = sum(8 * s.stat().st_size for s in streams)
            assert point["bits"] == bits == sum(r["bits"] for r in records)
            assert point["bpp"] == pytest.approx(bits / sum(r["width"] * r["height"] for r in records))
            # The kept bitstream decodes (as icm-dec does) to the output whose hash the record holds.
            decoded = decode_bytes(read_bitstream_file(streams[0]), DecoderConfig())
            assert decoded.hash_hex == records[0]["md5"]
        # mAP = pycocotools on the stored detections.
        detections = [d for r in records for d in r["detections"]]
        expected = evaluate_detections(detections, annotations, ids)
        assert point["mAP"] == pytest.approx(100 * expected["mAP"], abs=1e-9)
        assert point["mAP50"] == pytest.approx(100 * expected["mAP50"], abs=1e-9)
        low, high = point["mAP_ci"]
        assert low <= high
        assert point["task_s"] > 0 and point["task_kmac_px"] > 0
    uncompressed = report["points"][0]
    assert uncompressed["fidelity"] == pytest.approx(100.0)
    assert uncompressed["bpp"] is None
    image, feature = report["points"][1], report["points"][3]
    assert image["encode_kmac_px"] == 0 and image["task_kmac_px"] == pytest.approx(uncompressed["task_kmac_px"])
    # Split inference: NN part 1 at the encoder, part 2 at the task; together the whole network.
    assert feature["encode_kmac_px"] > 0 and feature["task_kmac_px"] > 0
    assert feature["encode_kmac_px"] + feature["task_kmac_px"] == pytest.approx(uncompressed["task_kmac_px"], rel=1e-6)
    assert report["points"][1]["bpp"] > report["points"][2]["bpp"]
    bd = {(b["metric"], b["method"]): b for b in report["bd"]}
    assert set(bd) >= {("mAP", "pchip"), ("mAP", "cubic"), ("fidelity", "pchip")}
    assert all(b["codec"] == "vvc-feature" and b["anchor"] == "vvc-image" for b in report["bd"])
    summary_rows = table(folder / "summary.csv")
    assert len(summary_rows) == len(report["bd"])
    assert "BD against `vvc-image`" in (folder / "report.md").read_text()


def test_interrupted_run_resumes_without_redoing_work(small_run, tmp_path):
    reference, _ = small_run
    folder = tmp_path / "resumed"
    config = load_ctc_config(SMALL, output=str(folder))
    done = []

    def stop_after_seven(spec, record):
        done.append(spec["record"])
        if len(done) == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_ctc(config, progress=False, on_item_done=stop_after_seven)
    finished = {path: os.stat(path).st_mtime_ns for path in map(Path, done)}
    assert len(record_files(folder)) == 7
    assert not (folder / "points.csv").exists()
    with pytest.raises(IncompleteError):
        build_report(folder)

    # Resume with two worker processes: only the missing items are computed.
    config = load_ctc_config(SMALL, output=str(folder), jobs=2)
    summary = run_ctc(config, progress=False)
    assert summary.cached == 7 and summary.computed == summary.items - 7
    assert {path: os.stat(path).st_mtime_ns for path in finished} == finished
    # Same tables as the uninterrupted run (times are measured, so they differ).
    assert table(folder / "points.csv", TIME_COLUMNS) == table(reference / "points.csv", TIME_COLUMNS)
    assert (folder / "summary.csv").read_text() == (reference / "summary.csv").read_text()

    # A finished run started again does nothing and writes identical tables.
    before = {path: os.stat(path).st_mtime_ns for path in record_files(folder)}
    tables = {name: (folder / name).read_text() for name in ("points.csv", "summary.csv", "report.md")}
    summary = run_ctc(load_ctc_config(SMALL, output=str(folder)), progress=False)
    assert summary.computed == 0 and summary.cached == summary.items
    assert {path: os.stat(path).st_mtime_ns for path in record_files(folder)} == before
    assert {name: (folder / name).read_text() for name in tables} == tables


def test_changed_settings_redo_only_the_changed_points(small_run, tmp_path):
    reference, _ = small_run
    folder = tmp_path / "changed"
    shutil.copytree(reference, folder)
    # A different preset makes different points: their records are stale and redone; uncompressed is kept.
    config = load_ctc_config(SMALL, output=str(folder), codecs=["uncompressed", "vvc-image"], preset="fast",
                             overrides=["codecs.vvc-image.qps=[47]"])
    summary = run_ctc(config, progress=False, report=False)
    assert summary.cached == 4 and summary.computed == 4
    again = run_ctc(config, progress=False, report=False)
    assert again.cached == 8 and again.computed == 0


def test_cli_run_report_and_compare(small_run, tmp_path):
    folder, _ = small_run
    runner = CliRunner()
    result = runner.invoke(cli, ["report", str(folder), "--no-plot"])
    assert result.exit_code == 0, result.output
    assert "| vvc-feature | 32 |" in result.output
    result = runner.invoke(cli, ["compare", str(folder), str(folder), "-o", str(tmp_path / "cmp.csv")])
    assert result.exit_code == 0, result.output
    assert "| vvc-image | 37 |" in result.output and "+0.0 | " in result.output
    text, _ = compare_runs(folder, folder)
    assert "| vvc-feature | 0.00 | 0.00 |" in text
    assert (tmp_path / "cmp.csv").read_text().startswith("codec,qp,bpp_a")
    # a report of some of the codecs, into another folder (the run's own report untouched)
    before = (folder / "report.md").read_text()
    result = runner.invoke(cli, ["report", str(folder), "--codec", "vvc-feature", "--no-plot", "-o",
                                 str(tmp_path / "some")])
    assert result.exit_code == 0, result.output
    some = (tmp_path / "some" / "points.csv").read_text()
    assert ",vvc-feature," in some and ",uncompressed," in some and ",vvc-image," not in some
    assert "none of the run's anchors (vvc-image) is selected: the report has no BD rows" in result.output
    assert not (tmp_path / "some" / "rd.png").exists() and "rd.png" not in result.output.splitlines()[-2]
    assert (folder / "report.md").read_text() == before
    result = runner.invoke(cli, ["report", str(folder), "--codec", "nonsense", "-o", str(tmp_path / "none")])
    assert result.exit_code == 2 and "no codec named 'nonsense'" in result.output
    result = runner.invoke(cli, ["report", str(folder), "--codec", "vvc-feature"])
    assert result.exit_code == 2 and "--codec needs -o FOLDER" in result.output
    assert (folder / "report.md").read_text() == before
    result = runner.invoke(cli, ["run", str(SMALL), "-o", str(tmp_path / "x"), "--check"])
    assert result.exit_code == 0 and "20 work items" in result.output
    assert "  vvc-feature: vvc-feature qp 32 (inner codec vvenc, preset faster)" in result.output
    assert not (tmp_path / "x").exists()


def _run_cli(args, tmp_path):
    result = CliRunner().invoke(cli, ["run", *args, "-o", str(tmp_path / "out"), "--quiet"])
    lines = [line for line in result.output.splitlines() if line.strip()]
    return result.exit_code, lines


@pytest.mark.parametrize("override, status, message", [
    ("dataset.images=/nonexistent/images", 3, "image folder not found"),
    ("dataset.annotations=/nonexistent/a.json", 3, "annotation file not found"),
    ("codecs.vvc-image.tool=vvc-nonsense", 2, "unknown tool 'vvc-nonsense'"),
    ("codecs.vvc-image.qps=[37,70]", 2, "QP 70 outside 0..63"),
    ("codecs.vvc-feature.qps=[]", 2, "'qps' must be a non-empty list"),
    ("inner.preset=ultrafast", 2, "unknown preset"),
    ("inner.encoder=vtm", 7, "VTM EncoderApp not found"),
    ("task_network=no-such-net", 2, "unknown task network"),
    ("colour=red", 2, "unknown key 'colour'"),
])
def test_bad_configurations_stop_before_any_work(shared, tmp_path, monkeypatch, override, status, message):
    monkeypatch.delenv("ICM_VTM_ENCODER", raising=False)
    code, lines = _run_cli([str(SMALL), "--set", override], tmp_path)
    assert code == status, lines
    assert len(lines) == 1 and lines[0].startswith("icm-ctc: error: ") and message in lines[0], lines
    assert not (tmp_path / "out").exists()


def test_missing_config_and_cuda_without_gpu(shared, tmp_path):
    code, lines = _run_cli([str(tmp_path / "nope.yaml")], tmp_path)
    assert code == 2 and "not found" in lines[0] and len(lines) == 1
    import torch
    if not torch.cuda.is_available():
        code, lines = _run_cli([str(SMALL), "--device", "cuda"], tmp_path)
        assert code == 7 and "no CUDA device" in lines[0] and len(lines) == 1
        assert not (tmp_path / "out").exists()


def test_check_lists_each_point_with_its_settings(shared, tmp_path):
    """--check names what each point sets, in its tool's summary: QP and inner codec, or a learned tool's model
    and refinement."""
    config = REPO / "cfg" / "ctc" / "coco-val-dev.yaml"
    result = CliRunner().invoke(cli, ["run", str(config), "-o", str(tmp_path / "x"), "--check",
                                      "--codec", "vvc-feature", "--codec", "mfc-fast", "--codec", "mfc"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "  vvc-feature: vvc-feature qp 40 (inner codec vvenc, preset medium)" in lines
    assert "  mfc-fast: mfc model mfc quality 2, refinement 0 steps" in lines
    assert "  mfc: mfc model mfc quality 5, refinement 40 steps" in lines
    assert not (tmp_path / "x").exists()


def test_missing_inner_codec_binary(shared, tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(tmp_path / "no-ffmpeg"))
    code, lines = _run_cli([str(SMALL)], tmp_path)
    assert code == 7 and "ffmpeg" in lines[0] and len(lines) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="no CUDA device here")
def test_small_ctc_on_cuda(small_run, tmp_path):
    reference, _ = small_run
    folder = tmp_path / "cuda"
    config = load_ctc_config(SMALL, output=str(folder), device="cuda", codecs=["uncompressed", "vvc-feature"])
    summary = run_ctc(config, progress=False)
    assert summary.computed == summary.items
    report = json.loads((folder / "report.json").read_text())
    cpu = {(r["codec"], r["qp"]): r for r in json.loads((reference / "report.json").read_text())["points"]}
    for point in report["points"]:
        # Same streams up to float differences in NN part 1; mAP within a point.
        assert point["mAP"] == pytest.approx(cpu[(point["codec"], point["qp"])]["mAP"], abs=1.0)


def test_label_free_report(small_run, tmp_path):
    """Without annotations (any photo folder) the report has task fidelity, bpp and BD on fidelity only."""
    reference, _ = small_run
    folder = tmp_path / "nolabels"
    shutil.copytree(reference, folder)
    run = json.loads((folder / "run.json").read_text())
    run["dataset"]["annotations"] = None
    run["config"]["dataset"]["annotations"] = None
    (folder / "run.json").write_text(json.dumps(run))
    report = build_report(folder, bootstrap=10)
    assert all("mAP" not in point and "fidelity" in point for point in report["points"])
    assert {b["metric"] for b in report["bd"]} == {"fidelity"}
    rows = table(folder / "points.csv")
    assert rows[0]["mAP"] == "" and rows[1]["fidelity"] != ""
    assert (folder / "rd.png").is_file()


def test_retask_evaluates_the_same_streams_with_another_network(small_run, tmp_path, monkeypatch):
    """icm-ctc retask: run A's kept vvc-image streams, decoded and read by yolo-fastest-1.1, nothing encoded;
    a feature codec's streams are refused with one line."""
    source, _ = small_run
    monkeypatch.setattr("icm.ctc_scripts.ctc.items.encode_stage",
                        lambda spec: pytest.fail("retask must not encode"))
    out = tmp_path / "yf11"
    result = CliRunner().invoke(cli, ["retask", str(source), "--task-network", "yolo-fastest-1.1", "-o", str(out),
                                      "--codec", "uncompressed", "--codec", "vvc-image", "--quiet"])
    assert result.exit_code == 0, result.output
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["task_network"] == "yolo-fastest-1.1"
    assert [c["name"] for c in run["config"]["codecs"]] == ["uncompressed", "vvc-image"]
    before = {(r["codec"], r["qp"]): r for r in table(source / "points.csv")}
    after = table(out / "points.csv")
    assert [(r["codec"], r["qp"]) for r in after] == [("uncompressed", ""), ("vvc-image", "37"), ("vvc-image", "47")]
    for row in after[1:]:
        assert row["bpp"] == before[(row["codec"], row["qp"])]["bpp"]  # the same streams
    stem = Path(run["dataset"]["files"][0]).stem
    record = json.loads((out / "points" / "vvc-image" / "qp37" / f"{stem}.json").read_text())
    original = json.loads((source / "points" / "vvc-image" / "qp37" / f"{stem}.json").read_text())
    assert record["md5"] == original["md5"] and record["bits"] == original["bits"]
    assert record["detections"] != original["detections"]  # another network's detections
    first = table(out / "points.csv", drop=TIME_COLUMNS)
    stamps = {path: path.stat().st_mtime_ns for path in record_files(out)}
    again = CliRunner().invoke(cli, ["retask", str(source), "--task-network", "yolo-fastest-1.1", "-o", str(out),
                                     "--codec", "uncompressed", "--codec", "vvc-image", "--quiet"])
    assert again.exit_code == 0 and table(out / "points.csv", drop=TIME_COLUMNS) == first
    assert {path: path.stat().st_mtime_ns for path in record_files(out)} == stamps  # nothing redone
    refused = CliRunner().invoke(cli, ["retask", str(source), "--task-network", "yolo-fastest-1.1",
                                       "-o", str(tmp_path / "f"), "--codec", "vvc-feature"])
    lines = [line for line in refused.output.splitlines() if line.strip()]
    assert refused.exit_code == 2 and len(lines) == 1 and "feature tensors" in lines[0], refused.output
