"""The registry of coding tools and the generic model zoo (no tool is loaded here)."""
import numpy as np
import pytest

from icm.common.config import EncoderConfig
from icm.common.errors import ConfigError, ResourceError
from icm.common.models.zoo import ModelCache, ModelFamily, ModelSet, read_npz
from icm.common.registry import RateParameter, ToolEntry, ToolRegistry, default_registry
from icm.common.syntax import structures as S

LOADS = []


def load_arrays(path, device="cpu"):
    """A loader as a tool names one: here the arrays of an .npz weights file."""
    LOADS.append(path)
    return read_npz(path)


def test_builtin_tools_take_their_ids_from_the_syntax():
    registry = default_registry()
    assert {e.tool_id: e.name for e in registry.entries()}.items() <= S.TOOLS.items()
    assert registry.get("mfc").groups and not registry.get("vvc-image").groups
    assert [e.name for e in registry.entries() if e.default_anchor] == ["vvc-image"]


def test_entry_resolves_and_checks_settings():
    mfc = default_registry().get("mfc")
    config = EncoderConfig(tool="mfc")
    assert mfc.resolve(config) == {"quality": 3, "model": "mfc", "refine_steps": 40}
    assert mfc.summary_line(config) == "mfc model mfc quality 3, refinement 40 steps"
    config.refine_steps = -1
    with pytest.raises(ConfigError, match="refine_steps must be an integer in 0..1000"):
        mfc.check(config)
    image = default_registry().get("vvc-image")
    assert image.summary_line(EncoderConfig()) == "vvc-image qp 37 (inner codec vvenc, preset medium)"
    with pytest.raises(ConfigError, match="QP 64 outside 0..63"):
        image.check(EncoderConfig(qp=64))
    with pytest.raises(ConfigError, match="unknown tool 'nope'"):
        default_registry().get("nope")


def test_model_set_ids_files_and_loading(tmp_path, monkeypatch):
    models = ModelSet("toy", (ModelFamily("toy", 0, "toy_q{quality}.npz"), ModelFamily("one", 10, "one.npz")),
                      loader="test_registry:load_arrays", qualities=(1, 2, 3))
    assert models.env == "ICM_TOY_WEIGHTS" and models.default_family == "toy"
    assert models.model_id("one", 2) == 12 and models.resolve_id(12) == ("one", 2)
    with pytest.raises(ResourceError, match="no toy model has id 9"):
        models.resolve_id(9)
    with pytest.raises(ValueError, match="distinct"):
        ModelSet("bad", (ModelFamily("a", 0, "a"), ModelFamily("b", 2, "b")), loader="x:y", qualities=(1, 2, 3))
    monkeypatch.setenv(models.env, str(tmp_path))
    assert models.available("toy") == [] and models.available("one") == []
    np.savez(tmp_path / "toy_q2.npz", w=np.arange(4, dtype=np.int16))
    np.savez(tmp_path / "one.npz", w=np.zeros(2, np.float16))
    assert models.available("toy") == [2] and models.available("one") == [1, 2, 3]  # one file, every quality
    with pytest.raises(ConfigError, match=r"toy model toy has no quality 3 \(qualities with weights: 2\)"):
        models.check_quality("toy", 3)
    cache = ModelCache()
    LOADS.clear()
    first = cache.load(models, "toy", 2)
    again = cache.load(models, None, 2)
    assert first.runtime is again.runtime and len(LOADS) == 1 and len(cache) == 1
    assert first.model_id == 2 and first.runtime["w"].dtype == np.int16
    assert cache.load_for_decoder(models, 2, first.stream_hash).runtime is first.runtime
    with pytest.raises(ResourceError, match="the stream needs weights with hash"):
        cache.load_for_decoder(models, 2, first.stream_hash ^ 1)
    with pytest.raises(ResourceError, match="toy_q1.npz not found"):
        cache.load(models, "toy", 1)


def test_a_qp_tool_with_a_model_uses_its_first_quality():
    models = ModelSet("qp-net", (ModelFamily("qp-net", 0, "qp-net.npz"),), loader="x:y", qualities=(1,))
    entry = ToolRegistry().register(ToolEntry(
        name="qp-net", tool_id=201, encoder="x:E", decoder="x:D", summary="{tool} qp {qp}", description="d",
        rate=RateParameter("qp", 37, 0, 63, "QP."), models=models))
    config = EncoderConfig(tool="qp-net", qp=30)
    assert entry.model_choice(config) == ("qp-net", 1) and entry.rate_values() == list(range(64))
    with pytest.raises(ConfigError, match="its encoder x:E does not exist"):
        entry.encoder_class()
