"""ci-icm's float model and the generic grouped-latent coder: shapes, training lowers the loss, gains and
truncation behave, the decoder-side float graphs match their exact integer forms."""
from __future__ import annotations

import pytest
import torch

from icm.common.entropy.gaussian import GaussianConditional
from icm.common.layers.exact import ExactGraph, FloatGraph, fake_fixed, from_fixed, to_fixed
from icm.common.models.channel_groups import ChannelImportance, code_groups, group_bounds
from icm.common.models.ci_icm import (CiIcmConfig, CiIcmModel, adapter_key, complexity, param_spec,
                                      synthesis_spec)
from icm.common.threads import torch_threads


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread (and do not fight a busy machine for cores)."""
    with torch_threads(1):
        yield


def tiny_config(**overrides) -> CiIcmConfig:
    values = dict(latent_channels=16, groups=(2, 2, 4, 8), hyper_channels=8, analysis_widths=(8, 8, 12),
                  synthesis_widths=(12, 12, 8, 8), hyper_width=12, param_width=8, adapter_width=8, qualities=3)
    values.update(overrides)
    return CiIcmConfig(**values)


def pictures(n: int = 2, size: int = 64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 3, size // 8, size // 8, generator=g)
    return torch.nn.functional.interpolate(base, size=(size, size), mode="bilinear", align_corners=False)


# what train_ci_icm export records (the encoder's latent refinement reads the lambdas), for tiny test models
TINY_INFO = {"steps": 3, "lambdas": [2.0, 20.0, 200.0], "w_mse": 1.0, "alpha": 5e-5}


def train_a_little(model: CiIcmModel, steps: int, seed: int, size: int = 64) -> CiIcmModel:
    """A few Adam steps on two pictures, so that the priors' quantiles and the networks are not at their
    initial values (the tool and runtime tests export such a model)."""
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x = pictures(2, size=size, seed=seed)
    for _ in range(steps):
        out = model(x, torch.tensor([0, 2]))
        loss = out["bits"].mean() / 4096 + 50 * (out["x_hat"] - x).square().mean()
        loss = loss + sum(p.loss() for p in model.priors)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def test_shapes_and_truncation():
    torch.manual_seed(0)
    model = CiIcmModel(tiny_config())
    x = pictures()
    out = model(x, torch.tensor([0, 2]), noise=False, truncate=1)
    assert out["x_hat"].shape == x.shape and out["x_trunc"].shape == x.shape
    assert out["y"].shape == (2, 16, 4, 4) and out["f"].shape == (2, 8, 32, 32)
    assert out["bits_y"].shape == (2, 4) and out["bits"].shape == (2,)
    coding = out["coding"]
    # the kept group decodes as in the full decode; missing groups take their predicted means
    assert torch.equal(coding.y_trunc[:, :2], coding.y_hat[:, :2])
    assert not torch.equal(coding.y_trunc, coding.y_hat)
    assert model(x, torch.tensor([0, 2]), truncate=4)["coding"].y_trunc is None
    assert complexity(model.config)["decoder"] > 0


def test_no_context_truncation_takes_full_decode_means():
    torch.manual_seed(1)
    model = CiIcmModel(tiny_config(context=False, group_gains=False))
    assert model.log_gain.shape == (3, 1)
    out = model(pictures(), torch.tensor([1, 1]), noise=False, truncate=2)
    coding = out["coding"]
    means = coding.mean_latent()
    assert torch.allclose(coding.y_trunc[:, 4:], means[:, 4:], atol=2e-3)


def test_higher_quality_spends_more_bits():
    torch.manual_seed(2)
    model = CiIcmModel(tiny_config(initial_gains=(1.0, 4.0)))
    x = pictures(1)
    with torch.no_grad():
        bits = [float(model(x, torch.tensor([q]), noise=False)["bits_y"].sum()) for q in range(3)]
    assert bits[0] < bits[1] < bits[2]
    gains = model.gains()
    assert torch.equal(torch.round(gains * 65536) / 65536, gains)  # on the header's 2**-16 grid


def test_per_sample_gains_match_per_group_gains():
    torch.manual_seed(3)
    bounds = group_bounds((2, 3))
    nets = torch.nn.ModuleList([FloatGraph(param_spec(tiny_config(latent_channels=5, groups=(2, 3)), g))
                                for g in range(2)])
    y, hyper = torch.randn(2, 5, 4, 4) * 3, torch.randn(2, 12, 4, 4)
    gains = torch.tensor([2.0, 0.5])
    a = code_groups(y, gains, hyper, nets, bounds, GaussianConditional(), noise=False)
    b = code_groups(y, gains.expand(2, 2), hyper, nets, bounds, GaussianConditional(), noise=False)
    assert torch.equal(a.y_hat, b.y_hat) and torch.allclose(a.bits, b.bits)
    c = code_groups(y, gains, hyper, nets, bounds, GaussianConditional(), noise=False, unit_params=False)
    assert c.y_hat.shape == y.shape


def test_order_loss():
    assert float(ChannelImportance.order_loss(torch.tensor([3.0, 2.0, 1.0]))) == 0.0
    assert float(ChannelImportance.order_loss(torch.tensor([1.0, 2.0, 3.0]))) > 0.0
    imp = ChannelImportance(3, momentum=0.5)
    imp.update(torch.tensor([1.0, 0.0, 2.0]).view(1, 3, 1, 1))
    assert torch.allclose(imp.sensitivity, torch.tensor([1.0, 0.5, 1.5]))


def test_training_steps_lower_the_loss():
    torch.manual_seed(4)
    model = CiIcmModel(tiny_config())
    x = pictures(4, seed=5)
    quality = torch.tensor([0, 1, 2, 1])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss_of(out):
        return out["bits"].mean() / 4096 + 50 * (out["x_hat"] - x).square().mean() \
            + 10 * (out["x_trunc"] - x).square().mean()

    with torch.no_grad():
        first = float(loss_of(model(x, quality, noise=False, truncate=2)))
    for _ in range(15):
        loss = loss_of(model(x, quality, truncate=2))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        last = float(loss_of(model(x, quality, noise=False, truncate=2)))
    assert last < 0.8 * first


def test_decoder_graphs_are_fixed_point_compatible():
    """The float synthesis and adapter on fixed-point inputs match their frozen integer forms to a few
    fixed-point units (rounded weights and activations)."""
    torch.manual_seed(6)
    config = tiny_config()
    model = CiIcmModel(config)
    y = fake_fixed(torch.randn(1, 16, 4, 4))
    f, rgb = model.synthesise(y)
    exact = ExactGraph.freeze(model.g_s)
    f_e, rgb_e = exact(to_fixed(y))
    assert (from_fixed(rgb_e) - rgb).abs().max() < 0.02 and (from_fixed(f_e) - f).abs().max() < 0.02
    adapter = model.adapters[adapter_key("yolo-fastest-1.1")]
    out_e = ExactGraph.freeze(adapter)(to_fixed(f), to_fixed(rgb))
    assert torch.equal(from_fixed(out_e), rgb)  # an untrained adapter is the identity, exactly
    assert synthesis_spec(config).outputs is not None
