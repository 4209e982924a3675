"""CTC configuration files: the shipped ones, overrides, and the checks that stop a run up front."""
from pathlib import Path

import pytest

from icm.common.errors import ConfigError, InputError
from icm.ctc_scripts.ctc.config import apply_override, config_from_dict, load_ctc_config, read_yaml
from icm.ctc_scripts.ctc.dataset import load_dataset

REPO = Path(__file__).resolve().parent.parent
CTC_DIR = REPO / "cfg" / "ctc"


def test_shipped_coco_val_dev_config(shared):
    config = load_ctc_config(CTC_DIR / "coco-val-dev.yaml")
    assert config.name == "coco-val-dev" and config.task_network == "yolo-fastest-1.1-xl"
    assert config.task_input_size == 320 and config.device == "cpu"
    assert [c.name for c in config.codecs] == ["uncompressed", "vvc-image", "vvc-image-task", "vvc-feature", "mfc",
                                              "mfc-fast", "mfc-short", "mfc-noxs", "mfc-nogroup", "npp-vvc",
                                              "npp-vvc-task", "npp-vvc-noproxy", "npp-vvc-fixed",
                                              "npp-vvc-notask", "ci-icm", "ci-icm-plain", "ci-icm-k1",
                                              "ci-icm-k2", "ci-icm-k3", "ci-icm-k4", "ci-icm-fast", "ci-icm-short",
                                              "ci-icm-baseline"]
    assert config.codec("vvc-image").qps == [22, 27, 32, 37, 42, 47]
    assert config.codec("vvc-image-task").qps == [22, 27, 32, 37, 42, 47]
    assert config.codec("vvc-image-task").resample == "task"
    assert config.anchors == ["vvc-feature", "vvc-image", "vvc-image-task", "mfc-short", "npp-vvc", "ci-icm-short",
                              "ci-icm-baseline"]
    assert config.reference == "uncompressed"
    encoder = config.encoder_config(config.codec("vvc-image-task"), 37)
    assert (encoder.tool, encoder.qp, encoder.resample, encoder.inner.preset) == ("vvc-image", 37, "task", "medium")
    mfc = config.codec("mfc")
    assert mfc.parameter == "quality" and config.encoder_config(mfc, 2).quality == 2
    assert config.encoder_config(config.codec("mfc-noxs"), 2).model == "noxs"
    assert config.encoder_config(mfc, 2).refine_steps is None  # the encoder's default
    assert config.encoder_config(config.codec("mfc-fast"), 2).refine_steps == 0
    npp = config.encoder_config(config.codec("npp-vvc-task"), 22)
    assert (npp.tool, npp.qp, npp.resample) == ("npp-vvc", 22, "task")
    assert config.encoder_config(config.codec("npp-vvc-noproxy"), 37).model == "noproxy"
    assert config.encoder_config(config.codec("npp-vvc-fixed"), 37).model == "fixed"
    assert config.encoder_config(config.codec("npp-vvc-notask"), 37).model == "notask"
    assert mfc.qualities == list(range(1, 8))
    ci_icm, ci_icm_k2 = config.codec("ci-icm"), config.codec("ci-icm-k2")
    assert ci_icm.decode == {"task_network": "yolo-fastest-1.1-xl"} and ci_icm_k2.decode == {"max_groups": 2}
    assert config.decoder_config(ci_icm_k2).max_groups == 2
    # the decode-only codecs have ci-icm-plain's streams
    plain = config.point_key(config.codec("ci-icm-plain"), 4)
    assert config.point_key(ci_icm, 4, with_decode=False) == config.point_key(ci_icm_k2, 4, with_decode=False) == plain
    assert config.point_key(ci_icm, 4) != plain
    assert config.encoder_config(config.codec("ci-icm-fast"), 3).refine_steps == 0
    assert config.encoder_config(config.codec("ci-icm-short"), 3).model == "short"
    assert config.encoder_config(config.codec("ci-icm-baseline"), 3).model == "baseline"
    assert len(config.points()) == 1 + 6 + 6 + 6 + 2 * len(mfc.qualities) + 4 + 4 + 4 + 6 * 5 + 6 * 2 + 3 * 4 + 6 * 3
    dataset = load_dataset(config.dataset)
    assert len(dataset) == 64 and dataset.annotations.name == "instances_det.json"
    assert config.output_dir() == Path("results") / "coco-val-dev"


def test_small_config_and_options(shared):
    config = load_ctc_config(CTC_DIR / "small.yaml", preset="slow", limit=2, jobs=3, device="cpu",
                             bootstrap=7, output="/tmp/x", codecs=["uncompressed", "vvc-feature"])
    assert [c.name for c in config.codecs] == ["uncompressed", "vvc-feature"]
    assert config.anchors == [] and config.jobs == 3 and config.statistics.bootstrap == 7
    assert config.encoder_config(config.codec("vvc-feature"), 32).inner.preset == "slow"
    assert len(load_dataset(config.dataset)) == 2
    assert config_from_dict(config.to_dict()) == config


def test_point_key_follows_the_settings(shared):
    config = load_ctc_config(CTC_DIR / "small.yaml")
    image = config.codec("vvc-image")
    key = config.point_key(image, 37)
    assert key == load_ctc_config(CTC_DIR / "small.yaml", jobs=2).point_key(image, 37)
    assert key != config.point_key(image, 47)
    assert key != load_ctc_config(CTC_DIR / "small.yaml", preset="medium").point_key(image, 37)
    assert key != load_ctc_config(CTC_DIR / "small.yaml", overrides=["task_input_size=416"]).point_key(image, 37)
    uncompressed = config.codec("uncompressed")
    assert config.point_key(uncompressed, None) == \
        load_ctc_config(CTC_DIR / "small.yaml", preset="medium").point_key(uncompressed, None)


def test_decode_settings_reach_the_decoder_and_the_key():
    values = {"dataset": {"name": "x", "images": "/tmp"},
              "codecs": [{"name": "m", "tool": "mfc", "qualities": [2]},
                         {"name": "m2", "tool": "mfc", "qualities": [2], "decode": {"max_groups": 2}}]}
    config = load_ctc_config(values=values)
    full, part = config.codec("m"), config.codec("m2")
    assert config.decoder_config(full).max_groups is None and config.decoder_config(part).max_groups == 2
    assert config.point_key(full, 2) != config.point_key(part, 2)
    assert config_from_dict(config.to_dict()) == config
    values["codecs"][1]["decode"] = {"max_groups": 3}
    other = load_ctc_config(values=values)
    assert other.point_key(other.codec("m2"), 2) != config.point_key(part, 2)


def test_overrides():
    values = {"dataset": {"name": "x"}, "codecs": [{"name": "a", "tool": "vvc-image", "qps": [1]}]}
    apply_override(values, "statistics.bootstrap=10")
    apply_override(values, "codecs.a.qps=[22, 27]")
    apply_override(values, "codecs.a.inner.preset=fast")
    apply_override(values, "device=cuda")
    assert values["statistics"] == {"bootstrap": 10} and values["device"] == "cuda"
    assert values["codecs"][0]["qps"] == [22, 27] and values["codecs"][0]["inner"] == {"preset": "fast"}
    for bad in ("nonsense", "codecs.b.qps=[1]", "codecs.a=1", "dataset.name.x=1"):
        with pytest.raises(ConfigError):
            apply_override(values, bad)


@pytest.mark.parametrize("change, message", [
    ({"codecs": []}, "non-empty list"),
    ({"codecs": [{"tool": "vvc-image", "qps": [37]}, {"tool": "vvc-image", "qps": [32]}]}, "used twice"),
    ({"codecs": [{"tool": "vvc-image", "qps": [37, 37]}]}, "listed twice"),
    ({"codecs": [{"tool": "vvc-image", "qps": ["a"]}]}, "must be an integer"),
    ({"codecs": [{"tool": "vvc-image", "qps": [-1]}]}, "outside 0..63"),
    ({"codecs": [{"tool": "uncompressed", "qps": [37]}]}, "takes no qps"),
    ({"codecs": [{"tool": "vvc-feature", "qps": [37], "resample": "task"}]},
     r"a setting of vvc-image, npp-vvc, not of"),
    ({"codecs": [{"tool": "vvc-image", "qps": [37], "settings": {"qp": 3}}]}, "unknown key 'qp'"),
    ({"codecs": [{"tool": "vvc-image", "qps": [37], "inner": {"preset": "warp"}}]}, "unknown preset"),
    ({"anchors": ["vvc-feature"]}, "anchor 'vvc-feature'"),
    ({"reference": "vvc-image"}, "must name an uncompressed codec"),
    ({"device": "tpu"}, "unknown device"),
    ({"statistics": {"confidence": 2}}, "statistics.confidence"),
    ({"bd": {"methods": ["akima"]}}, "bd.methods"),
    ({"name": "a b"}, "name must be"),
    ({"codecs": [{"tool": "vvc-image", "qps": [37], "decode": {"max_groups": 1}}]},
     "vvc-image streams have no channel groups"),
    ({"codecs": [{"tool": "vvc-image", "qps": [37], "decode": {"task_network": "yolo-fastest-1.1"}}]},
     "vvc-image's decoder has no task adapters"),
    ({"codecs": [{"tool": "uncompressed", "decode": {"max_groups": 1}}]}, "decodes nothing"),
    ({"codecs": [{"tool": "mfc", "qualities": [2], "decode": {"max_groups": -1}}]}, "max_groups -1 outside"),
    ({"codecs": [{"tool": "mfc", "qualities": [2], "decode": {"max_groups": "2"}}]}, "must be an integer"),
    ({"codecs": [{"tool": "mfc", "qualities": [2], "decode": {"device": "cpu"}}]}, "unknown key 'device'"),
    ({"codecs": [{"tool": "mfc", "qualities": [2], "decode": {"task_network": "yolo-fastest-1.1"}}]},
     "mfc's decoder has no task adapters"),
])
def test_bad_values(change, message):
    values = {"name": "t", "dataset": {"name": "x", "images": "/tmp"},
              "codecs": [{"tool": "uncompressed"}, {"tool": "vvc-image", "qps": [37]}], **change}
    with pytest.raises(ConfigError, match=message):
        load_ctc_config(values=values)


def test_dataset_errors(tmp_path):
    values = {"dataset": {"name": "x", "images": str(tmp_path / "none")}, "codecs": [{"tool": "uncompressed"}]}
    with pytest.raises(InputError, match="image folder not found"):
        load_dataset(load_ctc_config(values=values).dataset)
    (tmp_path / "empty").mkdir()
    values["dataset"]["images"] = str(tmp_path / "empty")
    with pytest.raises(InputError, match="no images"):
        load_dataset(load_ctc_config(values=values).dataset)
    (tmp_path / "empty" / "a.png").write_bytes(b"")
    (tmp_path / "empty" / "a.jpg").write_bytes(b"")
    with pytest.raises(InputError, match="two images named 'a"):
        load_dataset(load_ctc_config(values=values).dataset)


def test_relative_paths_are_relative_to_the_config(tmp_path):
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "b.png").write_bytes(b"")
    (tmp_path / "c.yaml").write_text("dataset: {images: pics}\ncodecs: [{tool: uncompressed}]\n")
    config = load_ctc_config(tmp_path / "c.yaml")
    assert config.name == "c" and Path(config.dataset.images) == tmp_path / "pics"
    dataset = load_dataset(config.dataset)
    assert dataset.files == ["b.png"] and dataset.image_ids == [1] and dataset.annotations is None
    assert read_yaml(tmp_path / "c.yaml")["codecs"] == [{"tool": "uncompressed"}]


def test_learned_tool_qualities():
    from icm.common.config import EncoderConfig
    from icm.ctc_scripts.ctc.records import point_name

    values = {"dataset": {"name": "x", "images": "/tmp"},
              "codecs": [{"name": "lic", "tool": "mfc", "qualities": [1, 3]},
                         {"name": "img", "tool": "vvc-image", "qps": [37]}]}
    config = load_ctc_config(values=values)
    codec = config.codec("lic")
    assert codec.parameter == "quality" and [v for c, v in config.points() if c is codec] == [1, 3]
    encoder = config.encoder_config(codec, 3)
    assert encoder.quality == 3 and encoder.qp == EncoderConfig().qp
    assert point_name(codec, 3) == "lic/q3" and point_name(config.codec("img"), 37) == "img/qp37"
    assert config.point_key(codec, 1) != config.point_key(codec, 3)
    values["codecs"][0]["qps"] = [37]
    with pytest.raises(ConfigError, match="mfc takes 'qualities', not 'qps'"):
        load_ctc_config(values=values)


@pytest.mark.parametrize("codec, message", [
    ({"tool": "vvc-image", "qualities": [1, 3]}, "vvc-image takes 'qps', not 'qualities'"),
    ({"tool": "vvc-feature", "qps": [37], "qualities": [2]}, "vvc-feature takes 'qps', not 'qualities'"),
    ({"tool": "mfc", "qualities": [8]}, "mfc model mfc has no quality 8 (offered: 1, 2, 3, 4, 5, 6, 7)"),
    ({"tool": "mfc", "qualities": [1], "settings": {"model": "noxs"}}, "mfc model noxs has no quality 1"),
    ({"tool": "mfc", "qualities": [10]}, "quality 10 outside 1..9"),
    ({"tool": "vvc-image", "qps": [64]}, "QP 64 outside 0..63"),
    ({"tool": "mfc", "qualities": [2], "resample": "task"},
     "'resample' is a setting of vvc-image, npp-vvc, not of mfc"),
    ({"tool": "vvc-feature", "qps": [37], "settings": {"refine_steps": 3}},
     "'refine_steps' is a setting of mfc, ci-icm, not of vvc-feature"),
    ({"tool": "mfc", "qualities": [2], "settings": {"refine_steps": 1001}}, "refine_steps must be an integer in"),
    ({"tool": "vvc-image", "qps": [37], "settings": {"colour_matrix": "bt2020"}}, "unknown colour_matrix"),
])
def test_rate_points_and_settings_come_from_the_tool_registry(codec, message):
    values = {"dataset": {"name": "x", "images": "/tmp"}, "codecs": [{"name": "c", **codec}]}
    with pytest.raises(ConfigError) as error:
        load_ctc_config(values=values)
    assert message in str(error.value)


def test_default_anchor_comes_from_the_registry():
    values = {"dataset": {"name": "x", "images": "/tmp"},
              "codecs": [{"name": "m", "tool": "mfc", "qualities": [2]},
                         {"name": "f", "tool": "vvc-feature", "qps": [37]},
                         {"name": "i", "tool": "vvc-image", "qps": [37]}]}
    assert load_ctc_config(values=values).anchors == ["i"]
    values["codecs"].pop()
    assert load_ctc_config(values=values).anchors == ["m"]


def test_missing_model_weights_stop_the_run_before_any_work(shared, tmp_path, monkeypatch):
    from icm.common.errors import ResourceError
    from icm.common.models import zoo
    from icm.ctc_scripts.ctc.config import check_resources

    values = {"dataset": {"name": "coco-val-dev", "images": str(shared / "data" / "coco-val-dev" / "images")},
              "codecs": [{"name": "mfc", "tool": "mfc", "qualities": [2]}]}
    config = load_ctc_config(values=values)
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", tmp_path)
    monkeypatch.delenv("ICM_MFC_WEIGHTS", raising=False)
    with pytest.raises(ResourceError, match="mfc_q2.pt not found"):
        check_resources(config)


def test_point_key_follows_the_model_weights(shared, tmp_path, monkeypatch):
    from icm.common.models import zoo

    values = {"dataset": {"name": "x", "images": "/tmp"}, "codecs": [{"name": "mfc", "tool": "mfc", "qualities": [2]}]}
    config = load_ctc_config(values=values)
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", tmp_path)
    monkeypatch.delenv("ICM_MFC_WEIGHTS", raising=False)
    (tmp_path / "mfc_q2.pt").write_bytes(b"one")
    first = config.point_key(config.codec("mfc"), 2)
    (tmp_path / "mfc_q2.pt").write_bytes(b"two")  # retrained weights: the cached records are stale
    assert config.point_key(config.codec("mfc"), 2) != first
