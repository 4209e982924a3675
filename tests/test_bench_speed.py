"""The side-by-side speed benchmark's point syntax and its interleaved, rotated coding order (no coding)."""
from pathlib import Path

import pytest

from icm.common.errors import ConfigError
from icm.ctc_scripts.studies.bench_speed import Point, interleaved


def test_point_settings_reach_the_encoder_and_decoder():
    point = Point("ci-icm:quality=3:refine_steps=0:max_groups=2:decode_task_network=yolo-fastest-1.1")
    assert (point.encoder.tool, point.encoder.quality, point.encoder.refine_steps) == ("ci-icm", 3, 0)
    assert (point.decoder.max_groups, point.decoder.task_network) == (2, "yolo-fastest-1.1")
    vvc = Point("vvc-image:qp=42:preset=faster:resample=task")
    assert (vvc.encoder.qp, vvc.encoder.resample) == (42, "task")
    assert vvc.encoder.inner.preset == vvc.decoder.inner.preset == "faster"


def test_bad_points_are_refused():
    with pytest.raises(ValueError, match="not KEY=VALUE"):
        Point("vvc-image:qp")
    with pytest.raises(ConfigError, match="unknown setting 'qq'"):
        Point("vvc-image:qq=3")
    with pytest.raises(ConfigError, match="unknown preset"):
        Point("vvc-image:preset=fastest")


def test_points_are_interleaved_and_rotated():
    order = []

    class Recorder:
        def __init__(self, name):
            self.name = name

        def code(self, picture, tools, counted=True):
            order.append((self.name, picture[0].name, counted))

    points = [Recorder("a"), Recorder("b"), Recorder("c")]
    interleaved(points, [(Path(name), None) for name in ("p1", "p2", "p3")], tools=None, progress=lambda *a, **k: None)
    assert order[:3] == [("a", "p1", False), ("b", "p1", False), ("c", "p1", False)]
    assert [(n, p) for n, p, _ in order[3:]] == [("a", "p1"), ("b", "p1"), ("c", "p1"), ("b", "p2"), ("c", "p2"),
                                                 ("a", "p2"), ("c", "p3"), ("a", "p3"), ("b", "p3")]
