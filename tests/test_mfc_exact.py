"""Exact integer-arithmetic graphs (icm.common.layers.exact): exactness, thread independence, bounds."""
import pytest
import torch

from icm.common.layers.exact import (ACT_LIMIT, ExactGraph, FloatGraph, GraphSpec, _weight_shift, fake_quant_graph,
                                     from_fixed, state_digest, to_fixed)
from icm.common.threads import torch_threads


def small_graph() -> GraphSpec:
    g = GraphSpec()
    a = g.conv(-1, 6, 16, 3, act="leaky")
    b = g.conv(a, 16, 16, 3, groups=16, act="relu")
    c = g.add(a, b)
    d = g.conv(c, 16, 32, 1)
    e = g.act(g.shuffle(d, 2), "leaky")
    f = g.cat(e, g.conv(-2, 8, 8, 1))  # second input, already at the upsampled size
    g.conv(f, 16, 5, 3, stride=2)
    return g


def run_with_threads(graph, inputs, threads):
    with torch_threads(threads), torch.no_grad():
        return graph(*inputs)


def test_exact_graph_matches_float_and_threads():
    torch.manual_seed(0)
    spec = small_graph()
    float_graph = FloatGraph(spec)
    exact = ExactGraph.freeze(float_graph)
    x = torch.randn(2, 6, 12, 12) * 4
    x2 = torch.randn(2, 8, 24, 24)
    inputs = (to_fixed(x), to_fixed(x2))
    one = run_with_threads(exact, inputs, 1)
    two = run_with_threads(exact, inputs, 2)
    assert one.dtype == torch.float64 and torch.equal(one, two)
    assert torch.equal(one, torch.round(one)) and one.abs().max() <= ACT_LIMIT
    with torch.no_grad():
        reference = fake_quant_graph(float_graph)(x, x2)
    assert (from_fixed(one) - reference).abs().max() < 0.02


def test_exact_graph_state_roundtrip_and_digest():
    torch.manual_seed(1)
    exact = ExactGraph.freeze(FloatGraph(small_graph()))
    clone = ExactGraph(small_graph())
    clone.load_state_dict(exact.state_dict())
    assert state_digest(clone) == state_digest(exact)
    x = (to_fixed(torch.randn(1, 6, 8, 8)), to_fixed(torch.randn(1, 8, 16, 16)))
    with torch.no_grad():
        assert torch.equal(clone(*x), exact(*x))
    assert GraphSpec.from_dict(small_graph().to_dict()).to_dict() == small_graph().to_dict()


def test_exact_graph_refuses_float_input_and_unsafe_weights():
    exact = ExactGraph.freeze(FloatGraph(small_graph()))
    with pytest.raises(TypeError):
        exact(torch.zeros(1, 6, 8, 8), torch.zeros(1, 8, 16, 16))
    spec = GraphSpec()
    spec.conv(-1, 16384, 1, 3)  # 147456 weights of 2**15 - 1 times 2**21: a sum could pass 2**52
    big = ExactGraph(spec)
    big.w0.fill_(32767)
    with pytest.raises(ValueError, match="2\\*\\*52"):
        big.check_bounds()


def test_fixed_point_and_weight_shift():
    x = torch.tensor([0.0, 1.0 / 1024, -2.5, 5000.0, -5000.0])
    a = to_fixed(x)
    assert a.tolist() == [0.0, 1.0, -2560.0, ACT_LIMIT, -ACT_LIMIT]
    assert from_fixed(a)[:3].tolist() == [0.0, 1.0 / 1024, -2.5]
    for value in (1e-6, 0.3, 0.5, 1.0, 1.999, 17.0, 3000.0):
        shift = _weight_shift(value)
        assert round(value * 2.0 ** shift) <= 32767
        assert shift == 30 or round(value * 2.0 ** (shift + 1)) > 32767


def test_model_configuration_rules():
    from icm.common.models.mfc import CodecConfig, MfcConfig, PredictionConfig

    s32 = dict(tensor_id=1, in_channels=96, latent_channels=8, groups=(2, 6))
    res = dict(tensor_id=0, in_channels=48, latent_channels=6, groups=(2, 4), down=2, residual=True)
    predicted = MfcConfig(codecs=[s32], prediction=PredictionConfig(source=1, target=0))
    assert [predicted.coding_mode(t) for t in (0, 1)] == [1, 0]
    with_residual = MfcConfig(codecs=[s32, res], prediction=PredictionConfig(source=1, target=0))
    assert [with_residual.coding_mode(t) for t in (0, 1)] == [2, 0]
    with pytest.raises(ValueError, match="after"):  # a residual is coded after its prediction's source
        MfcConfig(codecs=[res, s32], prediction=PredictionConfig(source=1, target=0))
    with pytest.raises(ValueError, match="coded, predicted"):  # a residual without a prediction
        MfcConfig(codecs=[s32, res], prediction=None)
    with pytest.raises(ValueError, match="coded, predicted"):  # s16 neither coded nor predicted
        MfcConfig(codecs=[s32], prediction=None)
    with pytest.raises(ValueError, match="one codec per tensor"):
        MfcConfig(codecs=[s32, s32], prediction=PredictionConfig(source=1, target=0))
    with pytest.raises(ValueError, match="side input"):
        CodecConfig(**res, side_tensor=1, side_channels=96)
